/**
 * The conformance cases of a method plugin. Cases about HTTP behaviour run the plugin in a real portcullis server.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { credentialBytes } from '../../core/auth/credential-bytes.ts';
import { hashClientToken } from '../../core/auth/token.ts';
import { loadConfig } from '../../core/config/load.ts';
import { ErrorCodes, errorCode, errorMessage } from '../../core/errors.ts';
import type { Credential, MethodInstance, MethodPlugin } from '../../core/plugins/contracts.ts';
import { authenticationProblem } from '../../core/plugins/instance.ts';
import { createRuntime } from '../../core/runtime.ts';
import { allAnsweredRight } from './concurrency.ts';
import { watchResources } from './handles.ts';
import { assertNoSecrets, assertSearchable, errorPlaces, type Place } from './leaks.ts';
import { withReferences } from './references.ts';
import { assertContractAndSchema } from './schema.ts';
import {
  credentialFor,
  methodConfig,
  registryWith,
  type ServedPlugin,
  servePlugin,
  withMethodServer,
} from './server.ts';
import { CaseSkipped } from './skip.ts';
import type { ConformanceCase, CredentialFixture, MethodFixtures } from './types.ts';

/** A scheme no method owns, for the foreign-credential check through the server. */
const UNOWNED_SCHEME = 'X-Conformance-Foreign';

/** `Authorization: <scheme> <value>` split as the core splits it for `authenticate`. */
export function parseCredential(header: string): Credential {
  const space = header.indexOf(' ');
  if (space <= 0) throw new Error('a credential fixture must be "<scheme> <value>"');
  return { scheme: header.slice(0, space), value: header.slice(space + 1) };
}

/** Flipt's refusal: 401, `WWW-Authenticate`, and `{"code": 16, "message": "...", "details": []}`. */
export async function assertFliptUnauthenticated(response: Response, what: string): Promise<void> {
  const body = await response.text();
  assert.equal(response.status, 401, `${what}: expected 401, got ${response.status}`);
  assert.ok(response.headers.get('www-authenticate') !== null, `${what}: a 401 carries WWW-Authenticate`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    assert.fail(`${what}: the 401 body is not JSON`);
  }
  const error = parsed as { code?: unknown; message?: unknown; details?: unknown };
  assert.equal(error.code, 16, `${what}: the body's code is gRPC UNAUTHENTICATED (16)`);
  assert.equal(typeof error.message, 'string', `${what}: the body has a message`);
  assert.ok(Array.isArray(error.details), `${what}: the body has details: []`);
}

const self = (served: ServedPlugin, authorization: string) =>
  served.fetch('/auth/v1/self', { headers: { authorization } });

async function assertAuthenticatedAs(response: Response, plugin: MethodPlugin<object>, what: string) {
  const body = await response.text();
  assert.equal(response.status, 200, `${what}: expected 200 from GET /auth/v1/self, got ${response.status}`);
  const method = (JSON.parse(body) as { method?: unknown }).method;
  assert.equal(method, plugin.method, `${what}: GET /auth/v1/self names the method ${plugin.method}`);
}

/**
 * `authenticate` of the instance for a credential (an `Authorization` value), or why it cannot be called directly:
 * the method owns no scheme or not this one (client tokens and sessions reach no `authenticate`: they are checked
 * through the server).
 */
function directAttempt(served: ServedPlugin, header: string): (() => Promise<unknown>) | string {
  const credential = parseCredential(header);
  const { instance } = served;
  const authenticate = instance?.authenticate;
  const schemes = instance?.schemes ?? [];
  if (instance === undefined || authenticate === undefined || schemes.length === 0) {
    return 'the method owns no Authorization scheme (schemes and authenticate)';
  }
  if (!schemes.includes(credential.scheme)) {
    return `the credential's scheme "${credential.scheme}" is not one the method owns (${schemes.join(', ')})`;
  }
  // An answer given at once, or a refusal thrown, counts as the promise of it would.
  return async () => authenticate.call(instance, credential);
}

/** The credential a fixture stands for, offered to `authenticate` directly; the case is skipped when it cannot be. */
async function directly(served: ServedPlugin, fixture: CredentialFixture): Promise<() => Promise<unknown>> {
  const attempt = directAttempt(served, await credentialFor(fixture, served.fixtureServer));
  if (typeof attempt === 'string') throw new CaseSkipped(attempt);
  return attempt;
}

/** What `authenticate` may resolve to: `null`, or an Authentication (string `id`, its `method`, metadata of strings). */
function assertAuthenticationOrNull(answer: unknown, what: string): void {
  if (answer === null) return;
  const problem = authenticationProblem(answer);
  assert.ok(problem === undefined, `${what} ${problem}`);
}

/**
 * The codes of a refusal: the caller is not authenticated or not allowed, or a JOSE verification failure (jose's
 * `ERR_JWS_…`, `ERR_JWT_…`, `ERR_JWKS_…`, `ERR_JOSE_…`). Anything else (`ERR_INTERNAL`, `ERR_PLUGIN_FAILED`) says
 * the method broke, not that the credential is bad.
 */
const REFUSAL_CODES: ReadonlySet<string> = new Set([
  ErrorCodes.UNAUTHENTICATED,
  ErrorCodes.PERMISSION_DENIED,
]);
const isRefusalCode = (code: string) => REFUSAL_CODES.has(code) || /^ERR_(JW|JOSE_)/.test(code);

/** What a value is, for a failure message: `undefined`, `null`, `false`, `an array`, `a string`, … */
function described(value: unknown): string {
  if (value === undefined || value === null || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/** Calls `identity` on `authentication`; fails unless it answers, without throwing, `{ user?, email? }` of strings. */
function assertIdentity(instance: MethodInstance, authentication: unknown): void {
  const identify = instance.identity as NonNullable<MethodInstance['identity']>;
  let identity: unknown;
  try {
    identity = identify.call(instance, authentication as Parameters<typeof identify>[0]);
  } catch (error) {
    assert.fail(`identity threw: ${errorMessage(error)}`);
  }
  assert.ok(
    typeof identity === 'object' && identity !== null && !Array.isArray(identity),
    `identity answered ${described(identity)}, not { user?, email? }`,
  );
  for (const part of ['user', 'email'] as const) {
    const value = (identity as Record<string, unknown>)[part];
    assert.ok(
      value === undefined || typeof value === 'string',
      `identity answered ${part}: ${described(value)}, not a string`,
    );
  }
}

function missing(field: keyof MethodFixtures): string {
  return `no ${field} fixture given`;
}

/** The value part of an `Authorization` header value (what follows the scheme). */
function credentialValue(credential: string): string[] {
  const space = credential.indexOf(' ');
  return space > 0 ? [credential.slice(space + 1)] : [];
}

/**
 * The conformance cases of `plugin` with `fixtures`: contract and schema, `validate` with unresolved references,
 * create/close without leaks, foreign, bad and good credentials (directly and through a real server), the
 * `identity` and `findClientToken` hooks' answers, routes under the method's prefix, no secret shown anywhere, and
 * concurrent use.
 */
export function methodPluginCases(plugin: MethodPlugin<object>, fixtures: MethodFixtures): ConformanceCase[] {
  const prefix = `/auth/v1/method/${plugin.name}`;
  const concurrency = fixtures.concurrency ?? 50;
  const serve = <T>(body: (served: ServedPlugin) => Promise<T>) => withMethodServer(plugin, fixtures, body);
  const load = (block: Readonly<Record<string, unknown>>) =>
    loadConfig({ object: methodConfig(plugin, fixtures, block), env: {}, registry: registryWith(plugin) });

  return [
    {
      name: 'contract: the plugin meets the contract, and configSchema is a valid, closed JSON Schema',
      run: () => assertContractAndSchema(plugin),
    },
    {
      name: "configuration: the fixture's block is a valid configuration",
      async run() {
        await load(fixtures.config);
      },
    },
    {
      name: 'validate: accepts a block whose text settings hold unresolved ${secret:…} references',
      async run() {
        const derived = withReferences(fixtures.config, plugin.configSchema, 'file');
        const block = fixtures.configWithReferences ?? derived.block;
        if (fixtures.configWithReferences === undefined && derived.replaced.length === 0) {
          throw new CaseSkipped(
            'the block has no text setting to hold a reference, and no configWithReferences',
          );
        }
        if (!JSON.stringify(block).includes('${secret:')) {
          throw new CaseSkipped('configWithReferences holds no ${secret:…} reference');
        }
        const loaded = await load(block);
        const seen = JSON.stringify(loaded.config.authentication.methods[plugin.name]);
        assert.ok(seen.includes('${secret:'), 'the validated block still holds its references');
      },
    },
    {
      name: 'lifecycle: create, checking the text credentials, then close leave no new timers, sockets or handles',
      async run() {
        const options = {
          object: methodConfig(plugin, fixtures),
          env: {},
          logDestination: { write: () => undefined },
        };
        // A first run loads modules and lazy singletons that stay for the life of the process: followed only to be
        // released if the check fails (what it leaked too would otherwise keep a failing run from ending).
        // Credentials given as text are checked on the way (a header value each), so that what a check leaves behind
        // (a timer per request, a socket never closed) is caught too; those a login makes need a server.
        const credentials = [
          fixtures.goodCredential,
          fixtures.badCredential,
          fixtures.foreignCredential,
        ].filter((credential): credential is string => typeof credential === 'string');
        const startUseClose = async () => {
          const runtime = await createRuntime({ ...options, registry: registryWith(plugin) });
          try {
            for (const authorization of credentials) await runtime.pipeline.authenticate({ authorization });
          } finally {
            await runtime.close();
          }
        };
        const watch = watchResources();
        try {
          await startUseClose();
          await watch.checkFromNow();
          await startUseClose();
          await watch.assertNoneLeft('creating, using and closing the method');
        } finally {
          watch.stop();
        }
      },
    },
    {
      name: 'foreign credential: authenticate resolves to null (never undefined, false or another non-authentication)',
      skip: fixtures.foreignCredential === undefined ? missing('foreignCredential') : undefined,
      run: () =>
        serve(async (served) => {
          const attempt = await directly(served, fixtures.foreignCredential as CredentialFixture);
          const answer = await attempt();
          assertAuthenticationOrNull(answer, 'authenticate(foreign)');
          assert.equal(answer, null, 'authenticate(foreign) answered an authentication, not null');
        }),
    },
    {
      name: 'foreign credential: another scheme (and the fixture) is a 401 through the server, never a 500',
      run: () =>
        serve(async (served) => {
          const unowned = `${UNOWNED_SCHEME} ${randomBytes(12).toString('hex')}`;
          await assertFliptUnauthenticated(await self(served, unowned), `Authorization: ${UNOWNED_SCHEME}`);
          if (fixtures.foreignCredential === undefined) return;
          const foreign = await credentialFor(fixtures.foreignCredential, served.fixtureServer);
          const response = await self(served, foreign);
          if (response.status === 200) {
            // Another method the fixture enabled may take it; this one must not.
            const { method } = (await response.json()) as { method?: unknown };
            assert.notEqual(method, plugin.method, 'the foreign credential authenticated as this method');
          } else {
            await assertFliptUnauthenticated(response, 'the foreign credential');
          }
        }),
    },
    {
      name: 'bad credential: authenticate rejects with a refusal code (ERR_UNAUTHENTICATED, ERR_PERMISSION_DENIED, or a JOSE ERR_JW*/ERR_JOSE_* code)',
      skip: fixtures.badCredential === undefined ? missing('badCredential') : undefined,
      run: () =>
        serve(async (served) => {
          const attempt = await directly(served, fixtures.badCredential as CredentialFixture);
          let refusal: unknown;
          let result: unknown;
          try {
            result = await attempt();
          } catch (error) {
            refusal = error;
          }
          assert.ok(
            refusal !== undefined,
            `authenticate(bad) resolved to ${result === null ? 'null' : 'an authentication'}`,
          );
          const code = errorCode(refusal);
          assert.ok(
            code !== undefined && code !== '',
            `authenticate(bad) rejected without a code: ${String(refusal)}`,
          );
          assert.ok(
            isRefusalCode(code),
            `authenticate(bad) rejected with ${code}, not a refusal (ERR_UNAUTHENTICATED, ERR_PERMISSION_DENIED, or a JOSE ERR_JW*/ERR_JOSE_* code): ${String(refusal)}`,
          );
        }),
    },
    {
      name: "bad credential: a 401 in Flipt's error shape through the server, never a 500",
      skip: fixtures.badCredential === undefined ? missing('badCredential') : undefined,
      run: () =>
        serve(async (served) => {
          const bad = await credentialFor(fixtures.badCredential as CredentialFixture, served.fixtureServer);
          await assertFliptUnauthenticated(await self(served, bad), 'the bad credential');
        }),
    },
    {
      name: 'good credential: authenticates through the server; authenticate, when the method owns its scheme, answers null or an authentication, never junk',
      skip: fixtures.goodCredential === undefined ? missing('goodCredential') : undefined,
      run: () =>
        serve(async (served) => {
          const good = await credentialFor(
            fixtures.goodCredential as CredentialFixture,
            served.fixtureServer,
          );
          await assertAuthenticatedAs(await self(served, good), plugin, 'the good credential');
          const attempt = directAttempt(served, good);
          if (typeof attempt !== 'string') assertAuthenticationOrNull(await attempt(), 'authenticate(good)');
        }),
    },
    {
      name: "identity: the identity hook answers { user?, email? } of strings for the good credential's authentication, and does not throw",
      skip: fixtures.goodCredential === undefined ? missing('goodCredential') : undefined,
      run: () =>
        serve(async (served) => {
          const { instance } = served;
          if (instance?.identity === undefined) throw new CaseSkipped('the method has no identity hook');
          const good = await credentialFor(
            fixtures.goodCredential as CredentialFixture,
            served.fixtureServer,
          );
          // The authentication as the server reads it from the request, client tokens and sessions included.
          const outcome = await served.server.runtime.pipeline.authenticate({ authorization: good });
          assert.ok(outcome.ok, `the good credential was refused (${outcome.ok ? '' : outcome.reason})`);
          assertIdentity(instance, outcome.authentication);
        }),
    },
    {
      name: 'client tokens: each of clientTokens authenticates as declared; findClientToken answers undefined for an unknown hash, and never anything but undefined or an authentication',
      run: () =>
        serve(async (served) => {
          const { instance } = served;
          const declared = instance?.clientTokens;
          const find = instance?.findClientToken;
          if (instance === undefined || (find === undefined && declared === undefined)) {
            throw new CaseSkipped('the method has neither clientTokens nor a findClientToken hook');
          }
          // Declared tokens were checked when the server started (it would not have); each is sent as a client
          // sends it, its UTF-8 bytes on the wire.
          for (const [index, { credential, authentication }] of (declared ?? []).entries()) {
            const wire = Buffer.from(credential, 'utf8').toString('latin1');
            const outcome = await served.server.runtime.pipeline.authenticate({
              authorization: `Bearer ${wire}`,
            });
            assert.ok(
              outcome.ok && outcome.authentication === authentication,
              `clientTokens[${index}] did not authenticate as its declared authentication (${outcome.ok ? `but as ${outcome.authentication.id}` : outcome.reason})`,
            );
          }
          if (find === undefined) return;
          const lookUp = async (tokenHash: string, what: string) => {
            try {
              return await find.call(instance, tokenHash);
            } catch (error) {
              return assert.fail(`findClientToken(${what}) threw: ${errorMessage(error)}`);
            }
          };
          const unknown = await lookUp(hashClientToken(randomBytes(32)), 'the hash of a random token');
          // Not found is `undefined` or `null`, as the contract says.
          assert.ok(
            unknown === undefined || unknown === null,
            `findClientToken(the hash of a random token) answered ${described(unknown)}, not undefined or null`,
          );
          for (const [field, fixture] of [
            ['goodCredential', fixtures.goodCredential],
            ['badCredential', fixtures.badCredential],
            ['foreignCredential', fixtures.foreignCredential],
          ] as const) {
            if (fixture === undefined) continue;
            const value = credentialValue(await credentialFor(fixture, served.fixtureServer));
            for (const token of value) {
              const what = `the hash of the ${field}'s token`;
              const answer = await lookUp(hashClientToken(credentialBytes(token)), what);
              if (answer === undefined || answer === null) continue;
              const problem =
                typeof answer === 'object' && answer !== null && !Array.isArray(answer)
                  ? authenticationProblem(answer)
                  : `answered ${described(answer)}, not undefined, null or an authentication`;
              assert.ok(problem === undefined, `findClientToken(${what}) ${problem}`);
            }
          }
        }),
    },
    {
      name: 'listing: GET /auth/v1/method lists the method, enabled',
      run: () =>
        serve(async (served) => {
          const response = await served.fetch('/auth/v1/method');
          assert.equal(response.status, 200, `GET /auth/v1/method answered ${response.status}`);
          const { methods } = (await response.json()) as {
            methods: Array<{ method: string; enabled: boolean }>;
          };
          const listed = methods.find((m) => m.method === plugin.method);
          assert.ok(listed !== undefined, `${plugin.method} is not listed`);
          assert.equal(listed.enabled, true, `${plugin.method} is listed disabled`);
        }),
    },
    {
      name: `routes: every route the method mounts stays under /auth/v1/method/${plugin.name}`,
      run: () =>
        serve(async (served) => {
          const outside = served.routes.urls.filter(
            (url) =>
              !(url === prefix || url.startsWith(`${prefix}/`)) ||
              url.split('/').some((segment) => /^(\.|%2e){1,2}$/i.test(segment)),
          );
          assert.deepEqual(outside, [], `routes outside ${prefix}: ${outside.join(', ')}`);
          const { requestListenersAtMount } = served.routes;
          if (requestListenersAtMount !== undefined) {
            const now = served.server.app.server.listeners('request').length;
            assert.equal(
              now,
              requestListenersAtMount,
              'the method added a raw request listener to the HTTP server',
            );
          }
        }),
    },
    {
      name: 'secrets: nothing marked secret appears in a log line, an error message or an answer',
      skip:
        (fixtures.secrets ?? []).length === 0 &&
        fixtures.goodCredential === undefined &&
        fixtures.badCredential === undefined
          ? 'no secrets, goodCredential or badCredential fixture given: nothing to look for'
          : undefined,
      async run() {
        assertSearchable(fixtures.secrets ?? [], 'secrets');
        const secrets = [...(fixtures.secrets ?? [])];
        const places: Place[] = [];
        const served = await servePlugin(plugin, methodConfig(plugin, fixtures));
        try {
          const credentials: string[] = [`${UNOWNED_SCHEME} conformance`];
          for (const [fixture, secret] of [
            [fixtures.goodCredential, true],
            [fixtures.badCredential, true],
            [fixtures.foreignCredential, false],
          ] as const) {
            if (fixture === undefined) continue;
            const credential = await credentialFor(fixture, served.fixtureServer);
            credentials.push(credential);
            if (secret) secrets.push(...credentialValue(credential));
          }
          for (const credential of credentials) {
            await self(served, credential);
            const offered = parseCredential(credential);
            const owned = served.instance?.schemes?.includes(offered.scheme) === true;
            if (owned && served.instance?.authenticate !== undefined) {
              try {
                await served.instance.authenticate(offered);
              } catch (error) {
                places.push(...errorPlaces(error, 'an error from authenticate'));
              }
            }
          }
          await served.fetch('/auth/v1/method');
          await served.fetch('/auth/v1/self');
        } finally {
          await served.close();
        }
        served.logLines.forEach((line, i) => {
          places.push({ where: `log line ${i + 1}`, text: line });
        });
        for (const exchange of served.exchanges) {
          places.push({ where: `the answer to ${exchange.request} (headers)`, text: exchange.headers });
          places.push({ where: `the answer to ${exchange.request} (body)`, text: exchange.body });
        }
        assertNoSecrets(secrets, places);
      },
    },
    {
      name: `concurrency: ${concurrency} authentications at once, good and bad mixed, each answered right`,
      skip:
        fixtures.goodCredential === undefined || fixtures.badCredential === undefined
          ? 'needs both goodCredential and badCredential fixtures'
          : undefined,
      run: () =>
        serve(async (served) => {
          const good = await credentialFor(
            fixtures.goodCredential as CredentialFixture,
            served.fixtureServer,
          );
          const bad = await credentialFor(fixtures.badCredential as CredentialFixture, served.fixtureServer);
          await allAnsweredRight(
            Array.from({ length: concurrency }, async (_, i) => {
              const response = await self(served, i % 2 === 0 ? good : bad);
              if (i % 2 === 0) await assertAuthenticatedAs(response, plugin, `request ${i} (good)`);
              else await assertFliptUnauthenticated(response, `request ${i} (bad)`);
            }),
          );
        }),
    },
  ];
}

/**
 * The conformance cases of a method plugin. Cases about HTTP behaviour run the plugin in a real portcullis server.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../core/config/load.ts';
import { errorCode } from '../../core/errors.ts';
import type { Credential, MethodPlugin } from '../../core/plugins/contracts.ts';
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
 * The credential a fixture stands for, offered to the instance's `authenticate` directly; the case is skipped when
 * the method owns no scheme or not this one (client tokens and sessions reach no `authenticate`: they are checked
 * through the server).
 */
async function directly(served: ServedPlugin, fixture: CredentialFixture): Promise<() => Promise<unknown>> {
  const credential = parseCredential(await credentialFor(fixture, served.fixtureServer));
  const { instance } = served;
  const authenticate = instance?.authenticate;
  const schemes = instance?.schemes ?? [];
  if (instance === undefined || authenticate === undefined || schemes.length === 0) {
    throw new CaseSkipped('the method owns no Authorization scheme (schemes and authenticate)');
  }
  if (!schemes.includes(credential.scheme)) {
    throw new CaseSkipped(
      `the credential's scheme "${credential.scheme}" is not one the method owns (${schemes.join(', ')})`,
    );
  }
  return () => authenticate.call(instance, credential);
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
 * create/close without leaks, foreign, bad and good credentials (directly and through a real server), routes
 * under the method's prefix, no secret shown anywhere, and concurrent use.
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
          assert.fail('the block has no text setting to hold a reference; give configWithReferences');
        }
        const loaded = await load(block);
        const seen = JSON.stringify(loaded.config.authentication.methods[plugin.name]);
        assert.ok(seen.includes('${secret:'), 'the validated block still holds its references');
      },
    },
    {
      name: 'lifecycle: create then close leave no new timers, sockets or handles',
      async run() {
        const options = {
          object: methodConfig(plugin, fixtures),
          env: {},
          logDestination: { write: () => undefined },
        };
        // A first run loads modules and lazy singletons that stay for the life of the process.
        await (await createRuntime({ ...options, registry: registryWith(plugin) })).close();
        const watch = watchResources();
        await (await createRuntime({ ...options, registry: registryWith(plugin) })).close();
        await watch.assertNoneLeft('creating and closing the method');
      },
    },
    {
      name: 'foreign credential: authenticate resolves to null',
      skip: fixtures.foreignCredential === undefined ? missing('foreignCredential') : undefined,
      run: () =>
        serve(async (served) => {
          const attempt = await directly(served, fixtures.foreignCredential as CredentialFixture);
          assert.equal(await attempt(), null, 'authenticate(foreign) is null');
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
      name: 'bad credential: authenticate rejects with a coded error',
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
      name: 'good credential: authenticates through the server',
      skip: fixtures.goodCredential === undefined ? missing('goodCredential') : undefined,
      run: () =>
        serve(async (served) => {
          const good = await credentialFor(
            fixtures.goodCredential as CredentialFixture,
            served.fixtureServer,
          );
          await assertAuthenticatedAs(await self(served, good), plugin, 'the good credential');
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

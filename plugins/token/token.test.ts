import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { MethodContext } from '../../core/plugins/kit/index.ts';
import { createLogger, MemoryStore, SecretScrubber } from '../../core/test-support/internals.ts';
import { tempFiles } from '../../core/test-support/tmp.ts';
import { ConfigError, createRuntime, formatIssue } from '../../index.ts';
import { BOOTSTRAP_TOKEN_NAME, bootstrap } from './bootstrap.ts';

function context(store = new MemoryStore({ gracePeriodMs: 0, cleanupIntervalMs: 0 })) {
  const lines: Array<Record<string, unknown>> = [];
  const log = createLogger({ level: 'info', encoding: 'json', keys: {} }, new SecretScrubber(), {
    write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>),
  });
  const ctx = { store, log, now: () => new Date() } as unknown as MethodContext;
  return { ctx, store, lines };
}

describe('bootstrap', () => {
  it('creates initial_bootstrap_token with a random token, logged once as client_token', async () => {
    const { ctx, store, lines } = context();
    await bootstrap(ctx, {});
    const [created] = lines;
    expect(created).toMatchObject({
      msg: 'access token created',
      client_token: expect.stringMatching(/^[A-Za-z0-9_-]{43}=$/),
    });
    const authentication = await store.getAuthenticationByClientToken(created?.client_token as string);
    expect(authentication).toMatchObject({
      method: 'METHOD_TOKEN',
      metadata: {
        'io.flipt.auth.token.name': BOOTSTRAP_TOKEN_NAME,
        'io.flipt.auth.token.description': 'Initial token created when bootstrapping authentication',
      },
    });
    expect(authentication?.expiresAt).toBeUndefined();
  });

  it('uses the configured token and expiration, and does not log the token', async () => {
    const { ctx, store, lines } = context();
    const before = Date.now();
    await bootstrap(ctx, { token: 'configured-bootstrap', expiration: 3_600_000 });
    const authentication = await store.getAuthenticationByClientToken('configured-bootstrap');
    expect(authentication?.expiresAt?.getTime()).toBeGreaterThanOrEqual(before + 3_600_000);
    expect(authentication?.expiresAt?.getTime()).toBeLessThan(before + 3_700_000);
    expect(JSON.stringify(lines)).not.toContain('configured-bootstrap');
    expect(lines).toEqual([expect.objectContaining({ msg: 'access token created from bootstrap.token' })]);
  });

  it('does nothing when the store already holds one, beyond the first page of tokens', async () => {
    const { ctx, store, lines } = context();
    for (let i = 0; i < 120; i++) {
      await store.createAuthentication({
        method: 'METHOD_TOKEN',
        metadata: { 'io.flipt.auth.token.name': `t${i}` },
      });
    }
    await store.createAuthentication({
      method: 'METHOD_TOKEN',
      metadata: { 'io.flipt.auth.token.name': BOOTSTRAP_TOKEN_NAME },
    });
    await bootstrap(ctx, {});
    expect(lines).toEqual([]);
    expect((await store.listAuthentications({ limit: 100, pageToken: '100' })).authentications).toHaveLength(
      21,
    );
  });
});

describe('static tokens', () => {
  const config = (base: string, tokens: Record<string, unknown>) => ({
    secrets: { providers: { file: { enabled: true, base_path: base } } },
    authentication: { methods: { token: { enabled: true, storage: { tokens } } } },
  });
  const silent = { write: () => true };

  it('may take storage.type from a secret, checked once it is resolved', async () => {
    const dir = tempFiles({ good: 'static', bad: 'kv', ci: 'ci-secret' });
    const withType = (type: string) => {
      const object = config(dir, { ci: { credential: '${secret:file:ci}' } });
      (object.authentication.methods.token.storage as Record<string, unknown>).type = type;
      return { object, env: {}, logDestination: silent };
    };
    const runtime = await createRuntime(withType('${secret:file:good}'));
    expect(await runtime.pipeline.authenticate({ authorization: 'Bearer ci-secret' })).toMatchObject({
      ok: true,
    });
    await runtime.close();
    const error = await createRuntime(withType('${secret:file:bad}')).catch((e: unknown) => e);
    expect((error as ConfigError).issues.map(formatIssue)).toEqual([
      'authentication.methods.token.storage.type: storage type: authentication.method.token.storage.type unexpected type (the secret it references is not "static")',
    ]);
  });

  it('take their credentials from secrets', async () => {
    const dir = tempFiles({ ci: 'ci-secret\n' });
    const runtime = await createRuntime({
      object: config(dir, { ci: { credential: '${secret:file:ci}', metadata: { role: 'admin' } } }),
      env: {},
      logDestination: silent,
    });
    expect(await runtime.pipeline.authenticate({ authorization: 'Bearer ci-secret' })).toMatchObject({
      ok: true,
      authentication: { id: 'ci', metadata: { role: 'admin' } },
    });
    await runtime.close();
  });

  it('are refused when a secret resolves to nothing or to another token’s credential, without showing it', async () => {
    const dir = tempFiles({ empty: '\n', a: 'shared-value', b: 'shared-value' });
    const error = await createRuntime({
      object: config(dir, {
        none: { credential: '${secret:file:empty}' },
        first: { credential: '${secret:file:a}' },
        second: { credential: '${secret:file:b}' },
      }),
      env: {},
      logDestination: silent,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    const lines = (error as ConfigError).issues.map(formatIssue);
    expect(lines).toEqual([
      'authentication.methods.token.storage.tokens.none.credential: authentication: credential non-empty value is required (the secret it references is empty)',
      'authentication.methods.token.storage.tokens.second.credential: authentication: credential resolves to the same value as token "first"\'s; each token needs its own',
    ]);
    expect(JSON.stringify(lines)).not.toContain('shared-value');
  });

  it('are located in the file when a resolved credential is refused (ctx.configError)', async () => {
    const dir = tempFiles({ a: 'shared-value', b: 'shared-value' });
    writeFileSync(
      `${dir}/config.yml`,
      [
        'secrets:',
        '  providers:',
        '    file:',
        '      enabled: true',
        `      base_path: ${JSON.stringify(dir)}`,
        'authentication:',
        '  methods:',
        '    token:',
        '      enabled: true',
        '      storage:',
        '        tokens:',
        '          first:',
        '            credential: ${secret:file:a}',
        '          second:',
        '            credential: ${secret:file:b}',
        '',
      ].join('\n'),
    );
    const error = await createRuntime({ file: `${dir}/config.yml`, env: {}, logDestination: silent }).catch(
      (e: unknown) => e,
    );
    expect((error as ConfigError).issues.map(formatIssue)).toEqual([
      'authentication.methods.token.storage.tokens.second.credential (15:25): authentication: credential resolves to the same value as token "first"\'s; each token needs its own',
    ]);
  });
});

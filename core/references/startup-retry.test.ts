import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAwsFake } from '../../secrets/aws/fake.ts';
import { startGcpFake } from '../../secrets/gcp/fake.ts';
import { startVaultFake } from '../../secrets/vault/fake.ts';
import { errorCode } from '../errors.ts';
import { startServer } from '../server.ts';
import { startSilentServer } from '../test-support/raw-http.ts';
import type { SecretStoreFake } from '../test-support/secret-store-fake.ts';

const VALUE = 'startup-retry-credential-6e1b';

function config(store: string, fake: SecretStoreFake, secrets: Record<string, string> = {}) {
  return {
    server: { host: '127.0.0.1', http_port: 0, grpc_port: 0 },
    authentication: {
      required: true,
      methods: {
        token: { enabled: true, storage: { tokens: { ci: { credential: `\${secret:${store}:ci-token}` } } } },
      },
    },
    secrets: { ...secrets, providers: { [store]: { enabled: true, ...fake.config } } },
  };
}

async function start(store: string, fake: SecretStoreFake, secrets: Record<string, string> = {}) {
  const logs: Array<Record<string, unknown>> = [];
  const started = Date.now();
  try {
    const server = await startServer({
      object: config(store, fake, secrets),
      env: { ...fake.env },
      logDestination: { write: (line: string) => logs.push(JSON.parse(line) as Record<string, unknown>) },
    });
    return { server, logs, error: undefined, ms: Date.now() - started };
  } catch (error) {
    return { server: undefined, logs, error: error as Error, ms: Date.now() - started };
  }
}

describe.each([
  ['aws', startAwsFake],
  ['vault', startVaultFake],
] as const)('start-up with %s that cannot be reached', (store, startFake) => {
  let fake: SecretStoreFake;
  beforeAll(async () => {
    fake = await startFake();
    fake.set('ci-token', VALUE);
  });
  afterAll(() => fake.close());

  it('retries with backoff, each retry logged, and starts once the store answers', async () => {
    fake.setDown(true);
    setTimeout(() => fake.setDown(false), 1_500);
    const { server, logs, error } = await start(store, fake, { startup_timeout: '10s' });
    expect(error).toBeUndefined();
    try {
      const answer = await fetch(`${server?.address}/auth/v1/self`, {
        headers: { authorization: `Bearer ${VALUE}` },
      });
      expect(answer.status).toBe(200);
      // A store that connects in create (vault logs in) is retried there; one that does not, at each reference.
      const retries = logs.filter(
        (line) =>
          line.msg === 'secret not resolved yet; retrying' ||
          line.msg === 'secret store not reachable yet; retrying',
      );
      expect(retries.length).toBeGreaterThanOrEqual(2);
      expect(retries[0]).toMatchObject({ level: 'warn', provider: store });
      if (store === 'aws') expect(retries[0]?.reference).toBe(`\${secret:${store}:ci-token}`);
      // Backoff: the waits grow.
      const waits = retries.map((line) => line.retryInMs as number);
      expect(waits[1]).toBeGreaterThan(waits[0] as number);
      expect(JSON.stringify(logs)).not.toContain(VALUE);
    } finally {
      await server?.close();
    }
  });

  it('gives up after startup_timeout, naming the store and the cause (and the reference, when it was being fetched)', async () => {
    fake.setDown(true);
    const { error, ms, logs } = await start(store, fake, { startup_timeout: '1500ms' });
    fake.setDown(false);
    if (store === 'aws') {
      expect(errorCode(error)).toBe('ERR_SECRET_RESOLUTION');
      expect(error?.message).toMatch(
        /^resolving secret reference "\$\{secret:aws:ci-token\}" \(provider "aws", at authentication\.methods\.token\.storage\.tokens\.ci\.credential\): aws secrets manager .*unreachable/,
      );
    } else {
      // The store's own code, not the generic one of any plugin's failure.
      expect(errorCode(error)).toBe('ERR_UNAVAILABLE');
      expect(error?.message).toMatch(
        /^plugin "vault" failed in create: vault at http:\/\/127\.0\.0\.1:\d+: .*503/,
      );
    }
    expect(ms).toBeGreaterThanOrEqual(1_400);
    expect(ms).toBeLessThan(12_000);
    expect(JSON.stringify(logs) + error?.message).not.toContain(VALUE);
  });

  it('a missing secret stops start-up at once: no retry can make it appear', async () => {
    fake.remove('ci-token');
    const { error, ms, logs } = await start(store, fake, { startup_timeout: '10s' });
    fake.set('ci-token', VALUE);
    expect(errorCode(error)).toBe('ERR_SECRET_RESOLUTION');
    expect(error?.message).toContain('not found');
    expect(ms).toBeLessThan(3_000);
    expect(logs.some((line) => line.msg === 'secret not resolved yet; retrying')).toBe(false);
  });
});

describe('secrets.fetch_timeout', () => {
  it('bounds each fetch: a store that never answers fails in that time, the call cancelled', async () => {
    const fake = await startGcpFake();
    try {
      fake.set('ci-token', VALUE);
      fake.setStalled(true);
      const { error, ms } = await start('gcp', fake, { fetch_timeout: '400ms', startup_timeout: '0s' });
      expect(errorCode(error)).toBe('ERR_SECRET_RESOLUTION');
      expect(error?.message).toMatch(/no answer within 400 ms \(secrets\.fetch_timeout\)|cancelled/);
      expect(ms).toBeLessThan(5_000);
    } finally {
      fake.setStalled(false);
      await fake.close();
    }
  });
});

describe('a store that accepts connections and never answers', () => {
  it('is bounded by fetch_timeout in create too, retried as unavailable, and given up after startup_timeout', async () => {
    const hang = await startSilentServer();
    const address = `http://127.0.0.1:${hang.port}`;
    const logs: Array<Record<string, unknown>> = [];
    const started = Date.now();
    const error = await startServer({
      object: {
        server: { host: '127.0.0.1', http_port: 0, grpc_port: 0 },
        authentication: {
          methods: {
            token: { enabled: true, storage: { tokens: { ci: { credential: '${secret:vault:ci}' } } } },
          },
        },
        secrets: {
          fetch_timeout: '300ms',
          startup_timeout: '1s',
          providers: { vault: { enabled: true, address, token: 'hung-vault-token-1d' } },
        },
      },
      env: {},
      logDestination: { write: (line: string) => logs.push(JSON.parse(line) as Record<string, unknown>) },
    }).then(
      () => undefined,
      (failure: unknown) => failure as Error,
    );
    const took = Date.now() - started;
    expect(errorCode(error)).toBe('ERR_UNAVAILABLE');
    expect(error?.message).toBe(
      'plugin "vault" failed in create: it did not finish within 0.3 s (secrets.fetch_timeout)',
    );
    expect(
      logs.filter((line) => line.msg === 'secret store not reachable yet; retrying').length,
    ).toBeGreaterThanOrEqual(2);
    expect(took).toBeGreaterThanOrEqual(1_000);
    expect(took).toBeLessThan(5_000);
  });
});

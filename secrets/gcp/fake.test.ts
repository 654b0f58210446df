/**
 * The fake checked against the real SDK: `SecretManagerServiceClient` is configured for an emulator by hand (not
 * through our store) and pointed at the fake; what arrives is what the SDK sends, and the SDK must accept what
 * the fake answers.
 */
import { createRequire } from 'node:module';
import { SecretManagerServiceClient } from '@google-cloud/secret-manager';
import * as grpcJs from '@grpc/grpc-js';
import type * as Gax from 'google-gax';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ACCESS_SECRET_VERSION, crc32c, type GcpFake, startGcpFake } from './fake.ts';

const gax = createRequire(createRequire(import.meta.url).resolve('@google-cloud/secret-manager'))(
  'google-gax',
) as typeof Gax;

/** An auth that never looks for credentials: the channel is insecure, the client asks only for the universe. */
class NoCredentials extends gax.GoogleAuth {
  override async getClient(): Promise<never> {
    throw new Error('no credentials with the emulator');
  }
}

function sdkClient(fake: GcpFake): SecretManagerServiceClient {
  return new SecretManagerServiceClient({
    apiEndpoint: '127.0.0.1',
    port: fake.port,
    sslCreds: gax.grpc.credentials.createInsecure(),
    auth: new NoCredentials({ universeDomain: 'googleapis.com' }),
  });
}

const options = { retry: null, timeout: 5000 } as const;

/** The status code a rejected call carries. */
async function codeOf(attempt: Promise<unknown>): Promise<unknown> {
  try {
    await attempt;
  } catch (error) {
    return (error as { code?: unknown }).code;
  }
  return 'resolved';
}

describe('gcp fake, driven by the real SecretManagerServiceClient', () => {
  let fake: GcpFake;
  let client: SecretManagerServiceClient;

  beforeAll(async () => {
    fake = await startGcpFake({ project: 'sdk-project' });
    client = sdkClient(fake);
  });
  afterAll(async () => {
    await client.close();
    await fake.close();
  });
  afterEach(() => {
    fake.setDown(false);
    fake.failWith(undefined);
    fake.setStalled(false);
  });

  it('the SDK and the fake load the same @grpc/grpc-js (npm dedupes google-gax copy)', () => {
    expect(gax.grpc.ChannelCredentials).toBe(grpcJs.ChannelCredentials);
  });

  it('AccessSecretVersion: the SDK sends the resource name, its client header and routing header; it reads the bytes', async () => {
    fake.set('api-key', 'first');
    fake.set('api-key', 'second ✓');
    const before = fake.requests.length;
    const name = 'projects/sdk-project/secrets/api-key/versions/latest';
    const [response] = await client.accessSecretVersion({ name }, options);

    expect(response.name).toBe('projects/sdk-project/secrets/api-key/versions/2');
    expect(Buffer.from(response.payload?.data as Uint8Array).toString('utf8')).toBe('second ✓');
    expect(Number(response.payload?.dataCrc32c)).toBe(crc32c(Buffer.from('second ✓')));

    expect(fake.requests.length).toBe(before + 1);
    const request = fake.requests.at(-1);
    expect(request?.method).toBe('RPC');
    expect(request?.path).toBe(ACCESS_SECRET_VERSION);
    expect(JSON.parse(request?.body ?? '')).toEqual({ name });
    expect(request?.headers['x-goog-request-params']).toBe(`name=${encodeURIComponent(name)}`);
    expect(request?.headers['x-goog-api-client']).toMatch(/(^| )gax\/\S+ gapic\/\S+ gl-node\/\S+ grpc\/\S+/);
    expect(request?.headers['user-agent']).toMatch(/^grpc-node-js\//);
    // The call's deadline (options.timeout 5000 ms), which grpc-js takes off the metadata, is recorded as sent.
    expect(Number(request?.headers['grpc-timeout']?.replace(/m$/, ''))).toBeGreaterThan(4000);
    expect(request?.headers.authorization).toBeUndefined();
  });

  it('a numbered version, and the regional resource name of a fake holding a location', async () => {
    fake.set('numbered', 'v1');
    fake.set('numbered', 'v2');
    const [response] = await client.accessSecretVersion(
      { name: 'projects/sdk-project/secrets/numbered/versions/1' },
      options,
    );
    expect(Buffer.from(response.payload?.data as Uint8Array).toString()).toBe('v1');

    const regional = await startGcpFake({ project: 'sdk-project', location: 'europe-west1' });
    const regionalClient = sdkClient(regional);
    try {
      regional.set('db', 'regional-value');
      const name = 'projects/sdk-project/locations/europe-west1/secrets/db/versions/latest';
      const [answer] = await regionalClient.accessSecretVersion({ name }, options);
      expect(answer.name).toBe('projects/sdk-project/locations/europe-west1/secrets/db/versions/1');
      expect(regional.requests.at(-1)?.headers['x-goog-request-params']).toBe(
        `name=${encodeURIComponent(name)}`,
      );
      // The global name of the same secret is another secret.
      expect(
        await codeOf(
          regionalClient.accessSecretVersion(
            { name: 'projects/sdk-project/secrets/db/versions/latest' },
            options,
          ),
        ),
      ).toBe(grpcJs.status.NOT_FOUND);
      expect(regional.config).toEqual({ project: 'sdk-project', location: 'europe-west1' });
    } finally {
      await regionalClient.close();
      await regional.close();
    }
  });

  it('NOT_FOUND for an unknown or removed secret, another project, an unknown version; INVALID_ARGUMENT for a bad name', async () => {
    const access = (name: string) => codeOf(client.accessSecretVersion({ name }, options));
    expect(await access('projects/sdk-project/secrets/never-set/versions/latest')).toBe(
      grpcJs.status.NOT_FOUND,
    );
    fake.set('removed', 'x');
    fake.remove('removed');
    expect(await access('projects/sdk-project/secrets/removed/versions/latest')).toBe(
      grpcJs.status.NOT_FOUND,
    );
    fake.set('elsewhere', 'x');
    expect(await access('projects/other/secrets/elsewhere/versions/latest')).toBe(grpcJs.status.NOT_FOUND);
    expect(await access('projects/sdk-project/secrets/elsewhere/versions/9')).toBe(grpcJs.status.NOT_FOUND);
    expect(await access('projects/sdk-project/secrets/a.b/versions/latest')).toBe(
      grpcJs.status.INVALID_ARGUMENT,
    );
  });

  it('UNAVAILABLE while down, the configured refusal while failing, each call recorded', async () => {
    fake.set('up', 'x');
    const name = 'projects/sdk-project/secrets/up/versions/latest';
    const before = fake.requests.length;
    fake.setDown(true);
    expect(await codeOf(client.accessSecretVersion({ name }, options))).toBe(grpcJs.status.UNAVAILABLE);
    fake.setDown(false);
    fake.failWith(grpcJs.status.PERMISSION_DENIED);
    expect(await codeOf(client.accessSecretVersion({ name }, options))).toBe(grpcJs.status.PERMISSION_DENIED);
    fake.failWith(grpcJs.status.UNAUTHENTICATED, 'Request had invalid authentication credentials.');
    expect(await codeOf(client.accessSecretVersion({ name }, options))).toBe(grpcJs.status.UNAUTHENTICATED);
    fake.failWith(undefined);
    const [response] = await client.accessSecretVersion({ name }, options);
    expect(Buffer.from(response.payload?.data as Uint8Array).toString()).toBe('x');
    expect(fake.requests.length).toBe(before + 4);
  });

  it("a stalled call ends when the SDK's abort signal fires, and the fake sees it cancelled", async () => {
    fake.set('slow', 'x');
    fake.setStalled(true);
    const controller = new AbortController();
    const call = codeOf(
      client.accessSecretVersion(
        { name: 'projects/sdk-project/secrets/slow/versions/latest' },
        { ...options, signal: controller.signal },
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    controller.abort();
    expect(await call).toBe(grpcJs.status.CANCELLED);
  });
});

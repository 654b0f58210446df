/**
 * The fake of Secrets Manager held to the real SDK: every case drives it with `@aws-sdk/client-secrets-manager`
 * directly (not through our store), and checks what the SDK sent and that the SDK reads what the fake answers.
 */
import {
  DecryptionFailure,
  GetSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
  SecretsManagerServiceException,
} from '@aws-sdk/client-secrets-manager';
import { afterEach, describe, expect, it } from 'vitest';
import type { SecretStoreFake } from '../../core/test-support/secret-store-fake.ts';
import { type AwsFake, type AwsFakeOptions, startAwsFake } from './fake.ts';

const opened: Array<{ destroy(): void } | AwsFake> = [];
afterEach(async () => {
  for (const thing of opened.splice(0)) {
    if ('destroy' in thing) thing.destroy();
    else await thing.close();
  }
});

async function fakeWith(options?: AwsFakeOptions): Promise<AwsFake> {
  const fake = await startAwsFake(options);
  opened.push(fake);
  return fake;
}

/** A client of the real SDK pointed at the fake, with the fake's key pair unless told otherwise. */
function sdkClient(
  fake: AwsFake,
  overrides: { region?: string; accessKeyId?: string; secretAccessKey?: string; sessionToken?: string } = {},
) {
  const client = new SecretsManagerClient({
    endpoint: fake.url,
    region: overrides.region ?? fake.env.AWS_REGION,
    maxAttempts: 2,
    credentials: {
      accessKeyId: overrides.accessKeyId ?? fake.env.AWS_ACCESS_KEY_ID,
      secretAccessKey: overrides.secretAccessKey ?? fake.env.AWS_SECRET_ACCESS_KEY,
      ...(overrides.sessionToken === undefined ? {} : { sessionToken: overrides.sessionToken }),
    },
  });
  opened.push(client);
  return client;
}

const failure = (attempt: Promise<unknown>) =>
  attempt.then(
    () => {
      throw new Error('expected the SDK to reject');
    },
    (error: unknown) => error as SecretsManagerServiceException & { code?: string },
  );

describe('aws fake, driven by the real SDK', () => {
  it('is a SecretStoreFake whose config and env point a store at it', async () => {
    const fake: SecretStoreFake = await fakeWith({ region: 'eu-west-3' });
    expect(fake.config).toEqual({ endpoint_url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/) });
    expect(fake.env).toEqual({
      AWS_REGION: 'eu-west-3',
      AWS_ACCESS_KEY_ID: expect.any(String),
      AWS_SECRET_ACCESS_KEY: expect.any(String),
    });
  });

  it('answers GetSecretValue with what the SDK reads, and records the request the SDK sent', async () => {
    const fake = await fakeWith();
    fake.set('team/db', '{"user":"u"}');
    const before = Date.now();
    const out = await sdkClient(fake).send(
      new GetSecretValueCommand({ SecretId: 'team/db', VersionStage: 'AWSCURRENT' }),
    );
    expect(out.SecretString).toBe('{"user":"u"}');
    expect(out.SecretBinary).toBeUndefined();
    expect(out.Name).toBe('team/db');
    expect(out.ARN).toMatch(/^arn:aws:secretsmanager:us-east-1:\d{12}:secret:team\/db-\w{6}$/);
    expect(out.VersionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(out.VersionStages).toEqual(['AWSCURRENT']);
    expect(out.CreatedDate).toBeInstanceOf(Date);
    expect(Math.abs((out.CreatedDate as Date).getTime() - before)).toBeLessThan(5_000);
    expect(out.$metadata.httpStatusCode).toBe(200);
    expect(out.$metadata.requestId).toMatch(/^[0-9a-f-]{36}$/);

    expect(fake.requests).toHaveLength(1);
    const [request] = fake.requests;
    expect(request?.method).toBe('POST');
    expect(request?.path).toBe('/');
    expect(request?.headers['content-type']).toBe('application/x-amz-json-1.1');
    expect(request?.headers['x-amz-target']).toBe('secretsmanager.GetSecretValue');
    expect(request?.headers['amz-sdk-request']).toBe('attempt=1; max=2');
    expect(request?.headers['x-amz-date']).toMatch(/^\d{8}T\d{6}Z$/);
    expect(request?.headers.authorization).toMatch(
      new RegExp(
        `^AWS4-HMAC-SHA256 Credential=${fake.env.AWS_ACCESS_KEY_ID}/\\d{8}/us-east-1/secretsmanager/aws4_request, ` +
          'SignedHeaders=[a-z0-9;-]*host[a-z0-9;-]*, Signature=[0-9a-f]{64}$',
      ),
    );
    expect(JSON.parse(request?.body ?? '')).toEqual({ SecretId: 'team/db', VersionStage: 'AWSCURRENT' });
    // Never the secret key itself: only its signature travels.
    expect(JSON.stringify(request)).not.toContain(fake.env.AWS_SECRET_ACCESS_KEY);
  });

  it('answers SecretBinary in base64, which the SDK hands over as bytes', async () => {
    const fake = await fakeWith();
    const bytes = new Uint8Array([0, 1, 2, 0xff, 0xfe, 104, 105]);
    fake.setBinary('blob', bytes);
    const out = await sdkClient(fake).send(new GetSecretValueCommand({ SecretId: 'blob' }));
    expect(out.SecretString).toBeUndefined();
    expect(out.SecretBinary).toEqual(bytes);
  });

  it('finds a secret by its ARN too, and set makes a new version', async () => {
    const fake = await fakeWith();
    fake.set('by-arn', 'one');
    const client = sdkClient(fake);
    const first = await client.send(new GetSecretValueCommand({ SecretId: 'by-arn' }));
    expect((await client.send(new GetSecretValueCommand({ SecretId: first.ARN }))).SecretString).toBe('one');
    fake.set('by-arn', 'two');
    const second = await client.send(new GetSecretValueCommand({ SecretId: 'by-arn' }));
    expect(second.SecretString).toBe('two');
    expect(second.VersionId).not.toBe(first.VersionId);
  });

  it('answers a missing or removed secret as the service does, which the SDK turns into its exception class', async () => {
    const fake = await fakeWith();
    fake.set('gone', 'x');
    fake.remove('gone');
    const client = sdkClient(fake);
    const error = await failure(client.send(new GetSecretValueCommand({ SecretId: 'gone' })));
    expect(error).toBeInstanceOf(ResourceNotFoundException);
    expect(error.name).toBe('ResourceNotFoundException');
    expect(error.message).toBe("Secrets Manager can't find the specified secret.");
    expect(error.$metadata.httpStatusCode).toBe(400);
    expect(error.$fault).toBe('client');
    fake.set('staged', 'x');
    const staged = await failure(
      client.send(new GetSecretValueCommand({ SecretId: 'staged', VersionStage: 'AWSPREVIOUS' })),
    );
    expect(staged).toBeInstanceOf(ResourceNotFoundException);
  });

  it('checks the SigV4 signature: another key id, secret key, region or session token is refused', async () => {
    const fake = await fakeWith({ sessionToken: 'session-token-of-the-fake' });
    fake.set('s', 'v');
    const ok = sdkClient(fake, { sessionToken: 'session-token-of-the-fake' });
    expect((await ok.send(new GetSecretValueCommand({ SecretId: 's' }))).SecretString).toBe('v');
    expect(fake.requests[0]?.headers['x-amz-security-token']).toBe('session-token-of-the-fake');

    const refusals = [
      [
        { accessKeyId: 'AKIAOTHERKEY0000000', sessionToken: 'session-token-of-the-fake' },
        'UnrecognizedClientException',
      ],
      [
        { secretAccessKey: 'not-the-secret', sessionToken: 'session-token-of-the-fake' },
        'InvalidSignatureException',
      ],
      [{ region: 'eu-central-1', sessionToken: 'session-token-of-the-fake' }, 'InvalidSignatureException'],
      [{ sessionToken: 'another-token' }, 'UnrecognizedClientException'],
      [{}, 'UnrecognizedClientException'],
    ] as const;
    for (const [overrides, name] of refusals) {
      const error = await failure(
        sdkClient(fake, overrides).send(new GetSecretValueCommand({ SecretId: 's' })),
      );
      expect(error.name, JSON.stringify(overrides)).toBe(name);
      expect(error.$metadata.httpStatusCode).toBe(400);
    }
  });

  it('answers an error set for a secret with its AWS name and status, as the SDK reads them', async () => {
    const fake = await fakeWith();
    fake.set('locked', 'x');
    fake.setError('locked', { type: 'DecryptionFailure', message: 'KMS refused' });
    const client = sdkClient(fake);
    const decryption = await failure(client.send(new GetSecretValueCommand({ SecretId: 'locked' })));
    expect(decryption).toBeInstanceOf(DecryptionFailure);
    expect(decryption.message).toBe('KMS refused');
    fake.setError('locked', { type: 'AccessDeniedException', message: 'not authorized', status: 400 });
    const denied = await failure(client.send(new GetSecretValueCommand({ SecretId: 'locked' })));
    expect(denied.name).toBe('AccessDeniedException');
    expect(denied).toBeInstanceOf(SecretsManagerServiceException);
    fake.setError('locked', { type: 'InternalServiceError', message: 'boom', status: 500 });
    const internal = await failure(client.send(new GetSecretValueCommand({ SecretId: 'locked' })));
    expect(internal.name).toBe('InternalServiceError');
    expect(internal.$fault).toBe('server');
    // A server error is retried by the SDK: its second attempt was recorded too.
    expect(fake.requests.at(-1)?.headers['amz-sdk-request']).toBe('attempt=2; max=2');
    fake.setError('locked', undefined);
    expect((await client.send(new GetSecretValueCommand({ SecretId: 'locked' }))).SecretString).toBe('x');
  });

  it('while down drops every connection (recorded), which the SDK reports as a network error after its retries', async () => {
    const fake = await fakeWith();
    fake.set('s', 'v');
    fake.setDown(true);
    const error = await failure(sdkClient(fake).send(new GetSecretValueCommand({ SecretId: 's' })));
    expect(error.code).toBe('ECONNRESET');
    expect(fake.requests.map((r) => r.headers['amz-sdk-request'])).toEqual([
      'attempt=1; max=2',
      'attempt=2; max=2',
    ]);
    fake.setDown(false);
    expect((await sdkClient(fake).send(new GetSecretValueCommand({ SecretId: 's' }))).SecretString).toBe('v');
  });

  it('holds answers while slow, so that the SDK cancels on its abort signal; close ends what is held', async () => {
    const fake = await fakeWith();
    fake.set('s', 'v');
    fake.setLatency(10_000);
    const started = Date.now();
    const error = await failure(
      sdkClient(fake).send(new GetSecretValueCommand({ SecretId: 's' }), {
        abortSignal: AbortSignal.timeout(100),
      }),
    );
    expect(error.name).toBe('AbortError');
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(fake.requests).toHaveLength(1);
  });

  it('answers a raw body when told to, which the SDK cannot read as an answer', async () => {
    const fake = await fakeWith();
    fake.setRawAnswer({ status: 200, contentType: 'text/html', body: '<html>captive portal</html>' });
    const error = await failure(sdkClient(fake).send(new GetSecretValueCommand({ SecretId: 's' })));
    expect(error.$metadata?.httpStatusCode).toBe(200);
    expect(error.message).not.toContain('captive portal');
  });

  it('refuses unsigned requests as the service does, and paths other than /', async () => {
    const fake = await fakeWith();
    const unsigned = await fetch(fake.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'secretsmanager.GetSecretValue',
      },
      body: '{"SecretId":"s"}',
    });
    expect(unsigned.status).toBe(400);
    expect(unsigned.headers.get('x-amzn-errortype')).toBe('MissingAuthenticationTokenException');
    expect(await unsigned.json()).toEqual({
      __type: 'MissingAuthenticationTokenException',
      message: 'Missing Authentication Token',
    });
    expect((await fetch(`${fake.url}/elsewhere`)).status).toBe(404);
  });
});

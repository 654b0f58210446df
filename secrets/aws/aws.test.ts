import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { watchResources } from '../../conformance/kit/handles.ts';
import { registryWith } from '../../conformance/kit/server.ts';
import { createRuntime, ErrorCodes } from '../../index.ts';
import { behaviourCases, isolateAwsEnvironment, openStore, rejection } from './behaviour.ts';
import { type AwsFake, startAwsFake } from './fake.ts';
import aws from './index.ts';
import { MAX_ATTEMPTS } from './source.ts';

let fake: AwsFake;
beforeAll(async () => {
  fake = await startAwsFake({ region: 'eu-west-1' });
});
afterAll(() => fake.close());
isolateAwsEnvironment();

/** The fake's requests since `from`, each as the SDK sent it. */
const since = (from: number) => fake.requests.slice(from);

describe('aws secret store against the local fake', () => {
  behaviourCases(() => ({
    config: fake.config,
    env: fake.env,
    put: async (path, value) => fake.set(path, value),
    putBinary: async (path, bytes) => fake.setBinary(path, bytes),
  }));

  it('asks GetSecretValue for the AWSCURRENT stage of the path, at endpoint_url, signed for the region', async () => {
    fake.set('ci/token', 'v');
    const from = fake.requests.length;
    const { source } = await openStore(fake.env, fake.config);
    expect(await source.get('ci/token')).toBe('v');
    const [request, ...more] = since(from);
    expect(more).toEqual([]);
    expect(request?.headers['x-amz-target']).toBe('secretsmanager.GetSecretValue');
    expect(JSON.parse(request?.body ?? '')).toEqual({ SecretId: 'ci/token', VersionStage: 'AWSCURRENT' });
    expect(request?.headers.authorization).toContain(
      `Credential=${fake.env.AWS_ACCESS_KEY_ID}/${request?.headers['x-amz-date']?.slice(0, 8)}/eu-west-1/secretsmanager/`,
    );
    expect(request?.headers['amz-sdk-request']).toBe(`attempt=1; max=${MAX_ATTEMPTS}`);
  });

  it('AWS_SESSION_TOKEN from the environment is sent with the key pair', async () => {
    const withToken = await startAwsFake({ region: 'eu-west-1', sessionToken: 'fake-session-token-Qp4' });
    try {
      withToken.set('s', 'v');
      const { source } = await openStore(
        { ...withToken.env, AWS_SESSION_TOKEN: 'fake-session-token-Qp4' },
        withToken.config,
      );
      expect(await source.get('s')).toBe('v');
      expect(withToken.requests[0]?.headers['x-amz-security-token']).toBe('fake-session-token-Qp4');
    } finally {
      await withToken.close();
    }
  });

  it("credentials: without a key pair in ctx.env, the SDK's default chain (here its process environment) is used", async () => {
    fake.set('chain', 'from-the-chain');
    vi.stubEnv('AWS_ACCESS_KEY_ID', fake.env.AWS_ACCESS_KEY_ID);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', fake.env.AWS_SECRET_ACCESS_KEY);
    const { source } = await openStore({ AWS_REGION: 'eu-west-1' }, fake.config);
    expect(await source.get('chain')).toBe('from-the-chain');
  });

  it('region and credentials from the shared files: the default profile, or AWS_PROFILE from ctx.env', async () => {
    fake.set('profiled', 'from-a-profile');
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-aws-'));
    try {
      writeFileSync(
        join(dir, 'config'),
        '[default]\nregion = eu-west-1\n\n[profile elsewhere]\nregion = eu-west-1\n\n[profile wrong]\nregion = us-west-2\n',
      );
      const keys = `aws_access_key_id = ${fake.env.AWS_ACCESS_KEY_ID}\naws_secret_access_key = ${fake.env.AWS_SECRET_ACCESS_KEY}\n`;
      writeFileSync(join(dir, 'credentials'), `[default]\n${keys}\n[elsewhere]\n${keys}\n[wrong]\n${keys}`);
      vi.stubEnv('AWS_CONFIG_FILE', join(dir, 'config'));
      vi.stubEnv('AWS_SHARED_CREDENTIALS_FILE', join(dir, 'credentials'));
      expect(await (await openStore({}, fake.config)).source.get('profiled')).toBe('from-a-profile');
      const named = await openStore({ AWS_PROFILE: 'elsewhere' }, fake.config);
      expect(await named.source.get('profiled')).toBe('from-a-profile');
      // The profile's region is used (and named): the fake serves eu-west-1 only.
      const wrong = await openStore({ AWS_PROFILE: 'wrong' }, fake.config);
      const error = await rejection(wrong.source.get('profiled'));
      expect(error.message).toMatch(
        /^aws secrets manager \(us-west-2\): the credentials were refused \(400 /,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('no region anywhere: create fails naming AWS_REGION and AWS_DEFAULT_REGION', async () => {
    const error = await rejection(
      openStore({ AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 'b' }, fake.config),
    );
    expect(error.code).toBe(ErrorCodes.SECRET_PROVIDER);
    expect(error.reason).toBe('no_region');
    expect(error.message).toBe(
      'aws secrets manager: no region: set AWS_REGION (or AWS_DEFAULT_REGION) in the environment, or a region in the profile of the shared AWS config file',
    );
  });

  it('a region that is no region name: create fails naming the variable and what it holds', async () => {
    for (const [env, variable] of [
      [{ AWS_REGION: 'bad region!' }, 'AWS_REGION'],
      [{ AWS_DEFAULT_REGION: 'EU_WEST_1' }, 'AWS_DEFAULT_REGION'],
    ] as const) {
      const error = await rejection(
        openStore({ AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 'b', ...env }, fake.config),
      );
      expect(error.code).toBe(ErrorCodes.SECRET_PROVIDER);
      expect(error.message).toBe(
        `aws secrets manager: ${variable} is not a region name (such as eu-west-1); got ${JSON.stringify(Object.values(env)[0])}`,
      );
    }
  });

  it('no credentials anywhere: a clear ERR_SECRET_PROVIDER (the chain ends without asking any network)', async () => {
    const { source } = await openStore({ AWS_REGION: 'eu-west-1' }, fake.config);
    const error = await rejection(source.get('x'));
    expect(error.code).toBe(ErrorCodes.SECRET_PROVIDER);
    expect(error.reason).toBe('no_credentials');
    expect(error.message).toMatch(
      /^aws secrets manager \(eu-west-1\): no credentials found \(set AWS_ACCESS_KEY_ID/,
    );
  });

  it('refused credentials name the store, the region and the AWS error, never the secret key', async () => {
    fake.set('guarded', 'guarded-value-Hk2');
    const cases = [
      [{ AWS_SECRET_ACCESS_KEY: 'wrong-secret-key-Mz9' }, 'InvalidSignatureException'],
      [{ AWS_ACCESS_KEY_ID: 'AKIAUNKNOWN000000000' }, 'UnrecognizedClientException'],
      [{ AWS_REGION: 'us-east-2' }, 'InvalidSignatureException'],
    ] as const;
    for (const [change, name] of cases) {
      const env = { ...fake.env, ...change };
      const { source } = await openStore(env, fake.config);
      const error = await rejection(source.get('guarded'));
      expect(error.code, name).toBe(ErrorCodes.SECRET_PROVIDER);
      expect(error.reason).toBe('credentials_refused');
      expect(error.message).toMatch(
        new RegExp(
          `^aws secrets manager \\(${env.AWS_REGION}\\): the credentials were refused \\(400 ${name}: `,
        ),
      );
      for (const hidden of ['wrong-secret-key-Mz9', fake.env.AWS_SECRET_ACCESS_KEY, 'guarded-value-Hk2']) {
        expect(error.message).not.toContain(hidden);
        expect(JSON.stringify(error)).not.toContain(hidden);
      }
    }
    for (const type of ['AccessDeniedException', 'ExpiredTokenException']) {
      fake.setError('guarded', { type, message: `${type} from the service`, status: 400 });
      const { source } = await openStore(fake.env, fake.config);
      const error = await rejection(source.get('guarded'));
      expect(error.reason).toBe('credentials_refused');
      expect(error.message).toBe(
        `aws secrets manager (eu-west-1): the credentials were refused (400 ${type}: ${type} from the service)`,
      );
    }
    fake.setError('guarded', undefined);
  });

  it('a service message that quotes the secret key is cut out of the error', async () => {
    fake.setError('echo', {
      type: 'AccessDeniedException',
      message: `denied for ${fake.env.AWS_SECRET_ACCESS_KEY} on echo`,
    });
    const { source } = await openStore(fake.env, fake.config);
    const error = await rejection(source.get('echo'));
    expect(error.message).toBe(
      'aws secrets manager (eu-west-1): the credentials were refused (400 AccessDeniedException: denied for [redacted] on echo)',
    );
    fake.setError('echo', undefined);
  });

  it('other service errors (DecryptionFailure, InternalServiceError) are ERR_SECRET_PROVIDER with the AWS name', async () => {
    fake.set('kms', 'x');
    fake.setError('kms', {
      type: 'DecryptionFailure',
      message: "Secrets Manager can't decrypt the protected secret text using the provided KMS key.",
    });
    const { source } = await openStore(fake.env, fake.config);
    const decryption = await rejection(source.get('kms'));
    expect(decryption.code).toBe(ErrorCodes.SECRET_PROVIDER);
    expect(decryption.reason).toBe('provider_error');
    expect(decryption.message).toBe(
      `aws secrets manager (eu-west-1): GetSecretValue of "kms" failed (400 DecryptionFailure: Secrets Manager can't decrypt the protected secret text using the provided KMS key.)`,
    );
    fake.setError('kms', { type: 'InternalServiceError', message: 'boom', status: 500 });
    const from = fake.requests.length;
    const internal = await rejection(source.get('kms'));
    expect(internal.message).toBe(
      'aws secrets manager (eu-west-1): GetSecretValue of "kms" failed (500 InternalServiceError: boom)',
    );
    // Retried by the SDK, MAX_ATTEMPTS times in all: the core's own retries come on top at start-up.
    expect(since(from)).toHaveLength(MAX_ATTEMPTS);
    fake.setError('kms', undefined);
  });

  it('a store that is down is unreachable (ERR_SECRET_PROVIDER) after MAX_ATTEMPTS tries, then serves again', async () => {
    fake.set('flaky', 'back');
    const { source } = await openStore(fake.env, fake.config);
    fake.setDown(true);
    const from = fake.requests.length;
    try {
      const error = await rejection(source.get('flaky'));
      expect(error.code).toBe(ErrorCodes.SECRET_PROVIDER);
      expect(error.reason).toBe('unreachable');
      expect(error.message).toBe(
        `aws secrets manager (eu-west-1) at ${fake.url}: unreachable (ECONNRESET: socket hang up)`,
      );
      expect(since(from)).toHaveLength(MAX_ATTEMPTS);
    } finally {
      fake.setDown(false);
    }
    expect(await source.get('flaky')).toBe('back');
  });

  it('a slow store: the signal cancels the request in flight, and close then leaves nothing behind', async () => {
    fake.set('slow', 'late');
    const watch = watchResources();
    try {
      await watch.checkFromNow();
      const { source } = await openStore(fake.env, fake.config);
      fake.setLatency(10_000);
      const started = Date.now();
      const error = await rejection(source.get('slow', undefined, { signal: AbortSignal.timeout(150) }));
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(error.code).toBe(ErrorCodes.SECRET_PROVIDER);
      expect(error.reason).toBe('timeout');
      fake.setLatency(0);
      expect(await source.get('slow')).toBe('late');
      await source.close?.();
      await watch.assertNoneLeft('a store that timed out a call, answered one and was closed');
    } finally {
      fake.setLatency(0);
      watch.stop();
    }
  });

  it('an answer the SDK cannot read, or one without a value, is an unexpected answer (the body is not quoted)', async () => {
    const { source } = await openStore(fake.env, fake.config);
    fake.setRawAnswer({ status: 200, contentType: 'text/html', body: '<html>captive portal page</html>' });
    try {
      const html = await rejection(source.get('any'));
      expect(html.code).toBe(ErrorCodes.SECRET_PROVIDER);
      expect(html.reason).toBe('unexpected_answer');
      expect(html.message).toMatch(
        new RegExp(
          `^aws secrets manager \\(eu-west-1\\) at ${fake.url}: unexpected answer to GetSecretValue of "any" \\(200 `,
        ),
      );
      expect(html.message).not.toContain('captive portal');
      fake.setRawAnswer({ status: 200, contentType: 'application/x-amz-json-1.1', body: '{"Name":"any"}' });
      const empty = await rejection(source.get('any'));
      expect(empty.message).toBe(
        `aws secrets manager (eu-west-1) at ${fake.url}: unexpected answer to GetSecretValue of "any" (neither SecretString nor SecretBinary)`,
      );
    } finally {
      fake.setRawAnswer(undefined);
    }
  });

  it('validate: endpoint_url must be an http(s) URL (a reference is left for later)', () => {
    const validate = aws.validate?.bind(aws) as NonNullable<typeof aws.validate>;
    expect(validate({ enabled: true, endpoint_url: 'localhost:4566' }, {} as never)).toEqual([
      {
        path: ['endpoint_url'],
        message: 'secrets.providers.aws: endpoint_url must be an absolute http:// or https:// URL',
      },
    ]);
    expect(
      validate(
        { enabled: true, endpoint_url: 'https://vpce-1.secretsmanager.eu-west-1.vpce.amazonaws.com' },
        {} as never,
      ),
    ).toEqual([]);
    expect(validate({ enabled: true, endpoint_url: '${secret:file:endpoint}' }, {} as never)).toEqual([]);
    expect(validate({ enabled: true }, {} as never)).toEqual([]);
  });

  it('through a runtime: references resolve, and a refusal names the reference, never a value or a key', async () => {
    fake.set('app/db', '{"password":"db-password-Wq7"}');
    fake.set('app/token', 'static-token-Lx3');
    const logLines: string[] = [];
    const tokens = (...refs: string[]) => ({
      authentication: {
        methods: {
          token: {
            enabled: true,
            storage: { tokens: Object.fromEntries(refs.map((ref, i) => [`t${i}`, { credential: ref }])) },
          },
        },
      },
    });
    // Start-up retries a refused store for startup_timeout, logging each retry: those lines are checked too.
    const secrets = {
      secrets: { startup_timeout: '400ms', providers: { aws: { enabled: true, ...fake.config } } },
    };
    const runtime = await createRuntime({
      object: { ...tokens('${secret:aws:app/token}', '${secret:aws:app/db:password}'), ...secrets },
      env: { ...fake.env },
      registry: registryWith(aws),
      logDestination: { write: (line: string) => logLines.push(line) },
    });
    try {
      const stored = (
        runtime.config.authentication.methods.token as unknown as {
          storage: { tokens: Record<string, { credential: string }> };
        }
      ).storage.tokens;
      expect(stored.t0?.credential).toBe('static-token-Lx3');
      expect(stored.t1?.credential).toBe('db-password-Wq7');
    } finally {
      await runtime.close();
    }
    const refused = await rejection(
      createRuntime({
        object: { ...tokens('${secret:aws:app/db:user}'), ...secrets },
        env: { ...fake.env, AWS_SECRET_ACCESS_KEY: 'the-wrong-secret-Pd5' },
        registry: registryWith(aws),
        logDestination: { write: (line: string) => logLines.push(line) },
      }),
    );
    expect(refused.message).toContain('${secret:aws:app/db:user}');
    // The retries were logged, naming the reference and why, and nothing more.
    expect(
      logLines.some(
        (line) => line.includes('${secret:aws:app/db:user}') && line.includes('InvalidSignatureException'),
      ),
    ).toBe(true);
    expect(refused.message).toContain('the credentials were refused (400 InvalidSignatureException');
    for (const text of [refused.message, JSON.stringify(refused), ...logLines]) {
      for (const hidden of [
        'db-password-Wq7',
        'static-token-Lx3',
        'the-wrong-secret-Pd5',
        fake.env.AWS_SECRET_ACCESS_KEY,
      ]) {
        expect(text).not.toContain(hidden);
      }
    }
  });

  it('the plugin module loads no AWS SDK module; create does', () => {
    const script = `
      import { registerHooks } from 'node:module';
      const sdk = [];
      registerHooks({ resolve(spec, context, next) {
        const found = next(spec, context);
        if (/@aws-sdk|@smithy/.test(found.url)) sdk.push(found.url);
        return found;
      } });
      const aws = (await import(${JSON.stringify(new URL('./index.ts', import.meta.url).href)})).default;
      const before = sdk.length;
      const source = await aws.create({ env: { AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 'b' },
        error() {}, log: {}, fetch, now: () => new Date() }, { enabled: true });
      await source.close();
      console.log(JSON.stringify({ before, after: sdk.length }));`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      env: { ...process.env, AWS_EC2_METADATA_DISABLED: 'true' },
    });
    expect(child.stderr.replace(/.*ExperimentalWarning.*\n?|.*--trace-warnings.*\n?/g, '')).toBe('');
    const counts = JSON.parse(child.stdout) as { before: number; after: number };
    expect(counts.before).toBe(0);
    expect(counts.after).toBeGreaterThan(0);
  });
});

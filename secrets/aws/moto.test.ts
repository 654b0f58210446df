/**
 * The store against moto_server (moto's stand-alone AWS server, a second and independent Secrets Manager): the
 * same behaviour cases as against our fake, and the conformance cases. Secrets are written through the real SDK
 * (CreateSecret, PutSecretValue). Skipped, saying why, where moto_server is not installed.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  CreateSecretCommand,
  PutSecretValueCommand,
  ResourceExistsException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, describe } from 'vitest';
import { secretProviderCases } from '../../conformance/kit/index.ts';
import { describeCases } from '../../conformance/kit/vitest.ts';
import { type AwsBackend, behaviourCases, closedPort, isolateAwsEnvironment } from './behaviour.ts';
import aws from './index.ts';

const hasMoto = spawnSync('sh', ['-c', 'command -v moto_server'], { stdio: 'ignore' }).status === 0;
const NOT_INSTALLED = 'moto_server is not installed (pip install "moto[server]")';
/** How long moto_server may take to answer after it is started. */
const START_TIMEOUT_MS = 20_000;

const env = {
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'testing',
  AWS_SECRET_ACCESS_KEY: 'testing',
} as const;
/** Keeps this run's secrets apart from any other's (moto keeps them for its life). */
const run = `run-${process.pid}-${Date.now().toString(36)}`;

/** Starts moto_server on a free loopback port and waits until it answers. */
async function startMoto(): Promise<{ url: string; child: ChildProcess; stop(): Promise<void> }> {
  const port = await closedPort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let output = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    output = `${output}${chunk.toString('utf8')}`.slice(-4_000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    try {
      const answer = await fetch(`${url}/moto-api/`, { signal: AbortSignal.timeout(1_000) });
      await answer.body?.cancel();
      if (answer.ok) return { url, child, stop };
    } catch {
      // Not listening yet.
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`moto_server did not answer at ${url} within ${START_TIMEOUT_MS} ms:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const moto = hasMoto ? await startMoto() : undefined;

/** The SDK client the tests write secrets with. */
const admin =
  moto === undefined
    ? undefined
    : new SecretsManagerClient({
        endpoint: moto.url,
        region: env.AWS_REGION,
        credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY },
      });

afterAll(async () => {
  admin?.destroy();
  await moto?.stop();
});

/** Creates the secret with this value, or makes it the new AWSCURRENT version when it exists. */
async function put(
  name: string,
  value: { SecretString: string } | { SecretBinary: Uint8Array },
): Promise<void> {
  const client = admin as SecretsManagerClient;
  try {
    await client.send(new CreateSecretCommand({ Name: name, ...value }));
  } catch (error) {
    if (!(error instanceof ResourceExistsException)) throw error;
    await client.send(new PutSecretValueCommand({ SecretId: name, ...value }));
  }
}

const backend = (): AwsBackend => ({
  config: { endpoint_url: moto?.url ?? 'http://127.0.0.1:1' },
  env,
  put: (path, value) => put(path, { SecretString: value }),
  putBinary: (path, bytes) => put(path, { SecretBinary: bytes }),
});

describe.skipIf(!hasMoto)(
  `aws secret store against moto_server${hasMoto ? '' : ` (skipped: ${NOT_INSTALLED})`}`,
  () => {
    isolateAwsEnvironment();
    behaviourCases(backend, `${run}/behaviour`);
  },
);

describeCases(
  'aws: conformance against moto_server',
  secretProviderCases(aws, {
    config: backend().config,
    env,
    ...(hasMoto
      ? { seed: (path: string, value: string) => put(path, { SecretString: value }) }
      : { unavailable: NOT_INSTALLED }),
    paths: {
      plain: `${run}/conformance-plain`,
      json: `${run}/conformance-json`,
      missing: `${run}/conformance-missing`,
    },
  }),
);

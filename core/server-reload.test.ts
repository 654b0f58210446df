import { mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startServer } from './server.ts';
import { concurrentLoad, eventually } from './test-support/load.ts';
import { bearer, serveForTest, type TestServer } from './test-support/server.ts';
import { tempDir } from './test-support/tmp.ts';

/**
 * A Kubernetes secret volume as the kubelet writes it: each version in its own folder, `..data` a link to the
 * current one, and each key a link through `..data`. A new version is swapped in by renaming a new link over
 * `..data`, atomically.
 */
function secretVolume(files: Record<string, string>) {
  const root = tempDir();
  let version = 0;
  const write = (next: Record<string, string>) => {
    version += 1;
    const folder = `..v${version}`;
    mkdirSync(join(root, folder));
    for (const [name, value] of Object.entries(next)) writeFileSync(join(root, folder, name), value);
    symlinkSync(folder, join(root, '..data_tmp'));
    renameSync(join(root, '..data_tmp'), join(root, '..data'));
    for (const name of Object.keys(next)) {
      try {
        symlinkSync(join('..data', name), join(root, name));
      } catch {
        // Already linked through ..data.
      }
    }
    if (version > 1) rmSync(join(root, `..v${version - 1}`), { recursive: true });
  };
  write(files);
  return { root, write };
}

const statusOf = async (served: TestServer, token: string) =>
  (await served.fetch('/auth/v1/self', { headers: bearer(token) })).status;

/** Requests with each token in turn, 8 at a time, until stopped. */
const load = (served: TestServer, tokens: readonly string[]) =>
  concurrentLoad(async (i) => String(await statusOf(served, tokens[i % tokens.length] as string)));

const OLD = 'rotation-old-credential-4b1f9c';
const NEW = 'rotation-new-credential-8e2a7d';

function tokenConfig(basePath: string, interval = '1s') {
  return {
    authentication: {
      required: true,
      methods: {
        token: {
          enabled: true,
          storage: { tokens: { ci: { credential: '${secret:file:ci-token}', metadata: { name: 'CI' } } } },
        },
      },
    },
    secrets: { refresh_interval: interval, providers: { file: { enabled: true, base_path: basePath } } },
  };
}

describe('secrets.refresh_interval', () => {
  it('a rotated file secret (a symlink swap) works and the old one fails within two intervals, under load with only 200s and 401s', async () => {
    const volume = secretVolume({ 'ci-token': OLD });
    const served = await serveForTest(tokenConfig(volume.root));
    expect(await statusOf(served, OLD)).toBe(200);
    expect(await statusOf(served, NEW)).toBe(401);

    const traffic = load(served, [OLD, NEW]);
    await new Promise((resolve) => setTimeout(resolve, 200));
    volume.write({ 'ci-token': NEW });
    const took = await eventually(
      async () => (await statusOf(served, NEW)) === 200 && (await statusOf(served, OLD)) === 401,
      2_000,
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    const statuses = await traffic.stop();

    expect(took).toBeLessThan(2_000);
    expect(Object.keys(statuses).sort()).toEqual(['200', '401']);
    expect(statuses['200']).toBeGreaterThan(10);
    const changes = served.logs.filter((line) => line.msg === 'secret changed; now in use');
    expect(changes).toEqual([
      expect.objectContaining({ reference: '${secret:file:ci-token}', provider: 'file', level: 'info' }),
    ]);
    const text = JSON.stringify(served.logs);
    expect(text).not.toContain(OLD);
    expect(text).not.toContain(NEW);
  });

  it('is seen at once through the watch, well before the interval', async () => {
    const volume = secretVolume({ 'ci-token': OLD });
    const served = await serveForTest(tokenConfig(volume.root, '1h'));
    volume.write({ 'ci-token': NEW });
    await eventually(async () => (await statusOf(served, NEW)) === 200, 3_000);
    expect(await statusOf(served, OLD)).toBe(401);
  });

  it('a fetch that fails keeps the last good value, warns naming the reference, and recovers at the next tick', async () => {
    const volume = secretVolume({ 'ci-token': OLD });
    const served = await serveForTest(tokenConfig(volume.root, '300ms'));
    rmSync(join(volume.root, 'ci-token'));
    await eventually(
      async () =>
        served.logs.some((line) => line.msg === 'secret refresh failed; the last good value stays in use'),
      3_000,
    );
    expect(await statusOf(served, OLD)).toBe(200);
    const warning = served.logs.find(
      (line) => line.msg === 'secret refresh failed; the last good value stays in use',
    );
    expect(warning).toMatchObject({
      level: 'warn',
      reference: '${secret:file:ci-token}',
      provider: 'file',
      code: 'ERR_SECRET_NOT_FOUND',
    });
    symlinkSync(join('..data', 'ci-token'), join(volume.root, 'ci-token'));
    volume.write({ 'ci-token': NEW });
    await eventually(async () => (await statusOf(served, NEW)) === 200, 3_000);
    expect(await statusOf(served, OLD)).toBe(401);
  });

  it('a value that turns empty (a file caught half-written) is not taken: the last good one stays, with a warning', async () => {
    const volume = secretVolume({ 'ci-token': OLD });
    const served = await serveForTest(tokenConfig(volume.root, '300ms'));
    volume.write({ 'ci-token': '' });
    await eventually(
      async () =>
        served.logs.some(
          (line) => line.msg === 'secret refresh found an empty value; the last good value stays in use',
        ),
      3_000,
    );
    expect(await statusOf(served, OLD)).toBe(200);
    volume.write({ 'ci-token': NEW });
    await eventually(async () => (await statusOf(served, NEW)) === 200, 3_000);
  });

  it('absent or 0: resolved once, as Flipt', async () => {
    const volume = secretVolume({ 'ci-token': OLD });
    const served = await serveForTest(tokenConfig(volume.root, '0s'));
    volume.write({ 'ci-token': NEW });
    await new Promise((resolve) => setTimeout(resolve, 600));
    await served.server.refreshSecrets();
    // refreshSecrets applies changes when asked; without an interval nothing asks.
    expect(await statusOf(served, NEW)).toBe(200);
    const again = await serveForTest(tokenConfig(secretVolume({ 'ci-token': OLD }).root, '0s'));
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(again.logs.some((line) => line.msg === 'secret changed; now in use')).toBe(false);
  });

  it('sessions and API-created tokens survive a rotation (the store is kept)', async () => {
    const volume = secretVolume({ 'ci-token': OLD });
    const served = await serveForTest(tokenConfig(volume.root));
    const created = await served.fetch('/auth/v1/method/token', {
      method: 'POST',
      headers: { ...bearer(OLD), 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'made-by-api' }),
    });
    expect(created.status).toBe(200);
    const { clientToken } = (await created.json()) as { clientToken: string };
    volume.write({ 'ci-token': NEW });
    await eventually(async () => (await statusOf(served, NEW)) === 200, 2_000);
    expect(await statusOf(served, clientToken)).toBe(200);
  });
});

describe('Server.reload', () => {
  it('applies an edited file: new references, a refresh_interval set by the reload; refuses one whose secret is missing', async () => {
    const secrets = tempDir();
    writeFileSync(join(secrets, 'a'), OLD);
    writeFileSync(join(secrets, 'b'), 'reload-second-credential-3c9d');
    const file = join(tempDir(), 'config.yaml');
    const write = (tokens: Record<string, string>, interval: string) =>
      writeFileSync(
        file,
        JSON.stringify({
          server: { host: '127.0.0.1', http_port: 0 },
          authentication: {
            required: true,
            methods: {
              token: {
                enabled: true,
                storage: {
                  tokens: Object.fromEntries(
                    Object.entries(tokens).map(([name, path]) => [
                      name,
                      { credential: `\${secret:file:${path}}` },
                    ]),
                  ),
                },
              },
            },
          },
          secrets: { refresh_interval: interval, providers: { file: { enabled: true, base_path: secrets } } },
        }),
      );
    write({ first: 'a' }, '0s');
    const logs: Array<Record<string, unknown>> = [];
    const server = await startServer({
      file,
      env: {},
      logDestination: { write: (line: string) => logs.push(JSON.parse(line) as Record<string, unknown>) },
    });
    onTestFinished(() => server.close());
    const status = async (token: string) =>
      (await fetch(`${server.address}/auth/v1/self`, { headers: bearer(token) })).status;
    expect(await status('reload-second-credential-3c9d')).toBe(401);

    write({ first: 'a', second: 'b' }, '300ms');
    expect(await server.reload()).toBe(true);
    expect(await status('reload-second-credential-3c9d')).toBe(200);
    // The interval the reload set is running: a change in the file is picked up without another reload.
    writeFileSync(join(secrets, 'a'), NEW);
    await eventually(async () => (await status(NEW)) === 200, 3_000);

    write({ first: 'a', second: 'b', third: 'missing' }, '300ms');
    expect(await server.reload()).toBe(false);
    const refused = logs.filter((line) => line.level === 'error').map((line) => String(line.msg));
    expect(refused).toEqual([
      expect.stringMatching(
        /^resolving secret reference "\$\{secret:file:missing\}" \(provider "file", at authentication\.methods\.token\.storage\.tokens\.third\.credential\): secret not found at path "missing"$/,
      ),
      'configuration reload refused; the running configuration stays',
    ]);
    expect(await status(NEW)).toBe(200);
    expect(await status('reload-second-credential-3c9d')).toBe(200);
    expect(JSON.stringify(logs)).not.toContain(NEW);
  });
});

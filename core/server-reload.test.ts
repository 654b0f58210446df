import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { ErrorCodes, PluginError } from './errors.ts';
import { startServer } from './server.ts';
import { concurrentLoad, eventually } from './test-support/load.ts';
import { registryWith, testMethod } from './test-support/plugins.ts';
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
    const refs = (tokens: Record<string, string>) =>
      Object.fromEntries(Object.entries(tokens).map(([name, path]) => [name, `\${secret:file:${path}}`]));
    const config = (extra: Record<string, unknown>) => {
      const { tokens = { first: 'a' }, interval = '0s' } = extra as {
        tokens?: Record<string, string>;
        interval?: string;
      };
      return {
        ...withTokens(secrets, refs(tokens)),
        secrets: { refresh_interval: interval, providers: { file: { enabled: true, base_path: secrets } } },
      };
    };
    const { write: writeConfig, logs, server, status } = await fromFile(config);
    const write = (tokens: Record<string, string>, interval: string) => writeConfig({ tokens, interval });
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

/** A server started from a JSON config file the test rewrites, with its log lines. */
async function fromFile(
  config: (extra: Record<string, unknown>) => object,
  initial: Record<string, unknown> = {},
) {
  const file = join(tempDir(), 'config.json');
  const write = (extra: Record<string, unknown> = {}) => writeFileSync(file, JSON.stringify(config(extra)));
  write(initial);
  const logs: Array<Record<string, unknown>> = [];
  const server = await startServer({
    file,
    env: {},
    logDestination: { write: (line: string) => logs.push(JSON.parse(line) as Record<string, unknown>) },
  });
  onTestFinished(() => server.close());
  const status = async (token: string) =>
    (await fetch(`${server.address}/auth/v1/self`, { headers: bearer(token) })).status;
  return { file, write, logs, server, status };
}

const withTokens = (
  basePath: string,
  tokens: Record<string, string>,
  extra: Record<string, unknown> = {},
) => ({
  server: { host: '127.0.0.1', http_port: 0, grpc_port: 0 },
  authentication: {
    required: true,
    methods: {
      token: {
        enabled: true,
        storage: {
          tokens: Object.fromEntries(
            Object.entries(tokens).map(([name, credential]) => [name, { credential }]),
          ),
        },
      },
    },
  },
  secrets: { providers: { file: { enabled: true, base_path: basePath } } },
  ...extra,
});

describe('Server.reload, as a reviewer tried to break it', () => {
  it('refuses an empty file (a truncated write) and keeps serving', async () => {
    const secrets = tempDir();
    const { file, logs, server, status } = await fromFile(() => withTokens(secrets, { ci: OLD }));
    writeFileSync(file, '');
    expect(await server.reload()).toBe(false);
    expect(logs.filter((line) => line.level === 'error').map((line) => line.msg)).toEqual([
      `${file} is empty: a reload needs the whole file (an empty one would set every setting to its default)`,
      'configuration reload refused; the running configuration stays',
    ]);
    expect(await status(OLD)).toBe(200);
  });

  it('makes one reload of a burst of requests for one; names the settings that apply only at the next start', async () => {
    const secrets = tempDir();
    const { write, logs, server, status } = await fromFile((extra) => ({
      ...withTokens(secrets, { ci: OLD }),
      ...extra,
    }));
    write({
      server: { host: '127.0.0.1', http_port: 0, https_port: 9443, grpc_port: 0 },
      log: { level: 'debug' },
    });
    const burst = await Promise.all(Array.from({ length: 10 }, () => server.reload()));
    expect(burst.every((applied) => applied)).toBe(true);
    // Asked for before the first began: one reload, of the file as it is when it begins.
    expect(logs.filter((line) => line.msg === 'configuration reloaded')).toHaveLength(1);
    // One asked for while another runs waits for it, and reads the file again after.
    const running = server.reload();
    await new Promise((resolve) => setImmediate(resolve));
    const [first, second] = await Promise.all([running, server.reload()]);
    expect([first, second]).toEqual([true, true]);
    expect(logs.filter((line) => line.msg === 'configuration reloaded')).toHaveLength(3);
    const warning = logs.find((line) =>
      String(line.msg).startsWith('these settings apply at the next start'),
    );
    expect(warning?.settings).toEqual(['server.https_port', 'log.level']);
    expect(await status(OLD)).toBe(200);
  });

  it('keeps the last good value of a reference whose store cannot answer now, so an edit is not held back by an outage', async () => {
    const secrets = tempDir();
    writeFileSync(join(secrets, 'ci'), OLD);
    const { write, logs, server, status } = await fromFile((extra) =>
      withTokens(secrets, { ci: '${secret:file:ci}', ...extra }),
    );
    rmSync(join(secrets, 'ci'));
    write({ added: 'reload-literal-token-7f3a' });
    expect(await server.reload()).toBe(true);
    expect(await status('reload-literal-token-7f3a')).toBe(200);
    expect(await status(OLD)).toBe(200);
    expect(
      logs.find((line) => line.msg === 'secret not fetched on reload; the last good value stays in use'),
    ).toMatchObject({
      level: 'warn',
      reference: '${secret:file:ci}',
      provider: 'file',
    });
    // A new reference must resolve, though.
    write({ added: 'reload-literal-token-7f3a', fresh: '${secret:file:never-written}' });
    expect(await server.reload()).toBe(false);
  });

  it('logs a secret whose value the reload found changed, as a refresh does', async () => {
    const secrets = tempDir();
    writeFileSync(join(secrets, 'ci'), OLD);
    const { write, logs, server, status } = await fromFile((extra) =>
      withTokens(secrets, { ci: '${secret:file:ci}', ...extra }),
    );
    writeFileSync(join(secrets, 'ci'), NEW);
    write();
    expect(await server.reload()).toBe(true);
    expect(await status(NEW)).toBe(200);
    expect(logs.filter((line) => line.msg === 'secret changed; now in use')).toEqual([
      expect.objectContaining({ reference: '${secret:file:ci}' }),
    ]);
  });
});

describe('a refresh with one secret the configuration cannot start with', () => {
  it('applies the other changes (a revoked token is revoked) and names the one it cannot', async () => {
    const secrets = tempDir();
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    writeFileSync(join(secrets, 'key.pem'), publicKey.export({ type: 'spki', format: 'pem' }));
    writeFileSync(join(secrets, 'keypath'), join(secrets, 'key.pem'));
    writeFileSync(join(secrets, 'b'), OLD);
    const served = await serveForTest({
      authentication: {
        required: true,
        methods: {
          jwt: { enabled: true, public_key_file: '${secret:file:keypath}' },
          token: { enabled: true, storage: { tokens: { b: { credential: '${secret:file:b}' } } } },
        },
      },
      secrets: { refresh_interval: '200ms', providers: { file: { enabled: true, base_path: secrets } } },
    });
    expect(await statusOf(served, OLD)).toBe(200);
    writeFileSync(join(secrets, 'keypath'), join(secrets, 'no-such-key.pem'));
    writeFileSync(join(secrets, 'b'), NEW);
    await eventually(async () => (await statusOf(served, NEW)) === 200, 3_000);
    expect(await statusOf(served, OLD)).toBe(401);
    const refused = served.logs.filter(
      (line) =>
        line.msg ===
        'a secret changed but the configuration could not start with its new value; the previous value stays in use',
    );
    expect(refused.length).toBeGreaterThan(0);
    expect(refused[0]).toMatchObject({
      level: 'error',
      reference: '${secret:file:keypath}',
      provider: 'file',
    });
    expect(
      served.logs.filter((line) => line.msg === 'secret changed; now in use').map((line) => line.reference),
    ).toEqual(['${secret:file:b}']);
  });
});

describe('Server.reload and refresh, third review', () => {
  it('refuses a file of comments and document markers only, or a null or empty document, as an empty one', async () => {
    const secrets = tempDir();
    const { file, server, status } = await fromFile(() => withTokens(secrets, { ci: OLD }));
    for (const text of [
      '\n# just a comment\n',
      '---\n',
      '--- # a document\n...\n',
      '~\n',
      'null\n',
      '{}\n',
      '---\n---\n',
      '# c\n---\n# d\n---\n',
      '---\n~\n---\n{}\n',
    ]) {
      writeFileSync(file, text);
      expect(await server.reload()).toBe(false);
    }
    expect(await status(OLD)).toBe(200);
  });

  it('a rotated secret the configuration cannot start with does not hold back an edit (a token removed is removed), and is not retried until it changes', async () => {
    const secrets = tempDir();
    writeFileSync(join(secrets, 'a'), 'third-review-token-a-11');
    writeFileSync(join(secrets, 'b'), 'third-review-token-b-22');
    writeFileSync(join(secrets, 'c'), 'third-review-token-c-33');
    const config = (extra: Record<string, unknown>) => ({
      ...withTokens(secrets, { a: '${secret:file:a}', b: '${secret:file:b}', ...extra }),
      secrets: { refresh_interval: '100ms', providers: { file: { enabled: true, base_path: secrets } } },
    });
    const { write, logs, server, status } = await fromFile(config, { c: '${secret:file:c}' });
    // a now holds b's value: two static tokens alike, which the token method refuses; kept pending.
    writeFileSync(join(secrets, 'a'), 'third-review-token-b-22');
    const refusedLines = () =>
      logs.filter(
        (line) =>
          line.msg ===
          'a secret changed but the configuration could not start with its new value; the previous value stays in use',
      );
    await eventually(() => refusedLines().length > 0, 3_000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    // Several ticks later: tried and logged once, not at every tick.
    expect(refusedLines()).toHaveLength(1);
    expect(refusedLines()[0]).toMatchObject({ reference: '${secret:file:a}' });
    expect(await status('third-review-token-a-11')).toBe(200);

    write();
    expect(await server.reload()).toBe(true);
    expect(await status('third-review-token-c-33')).toBe(401);
    expect(await status('third-review-token-a-11')).toBe(200);
    expect(await status('third-review-token-b-22')).toBe(200);
  });
});

describe('a change the configuration cannot start with for now', () => {
  it('is tried again at the next tick when what failed may heal (unavailable), and once only when the value is at fault', async () => {
    const secrets = tempDir();
    writeFileSync(join(secrets, 'key'), 'flaky-first-value');
    let down = false;
    const creates: string[] = [];
    const flaky = testMethod(
      'flaky',
      (_context, config) => {
        const key = String(config.key);
        creates.push(key);
        if (down) throw new PluginError(ErrorCodes.UNAVAILABLE, 'its backend cannot be reached now');
        if (key === 'flaky-refused-value')
          throw new PluginError(ErrorCodes.PLUGIN_FAILED, 'it refuses this key');
        return {};
      },
      { properties: { enabled: { type: 'boolean' }, key: { type: 'string' } } },
    );
    const logs: Array<Record<string, unknown>> = [];
    const server = await startServer({
      object: {
        server: { host: '127.0.0.1', http_port: 0, grpc_port: 0 },
        authentication: { methods: { flaky: { enabled: true, key: '${secret:file:key}' } } },
        secrets: { refresh_interval: '100ms', providers: { file: { enabled: true, base_path: secrets } } },
      },
      env: {},
      registry: registryWith(flaky),
      logDestination: { write: (line: string) => logs.push(JSON.parse(line) as Record<string, unknown>) },
    });
    onTestFinished(() => server.close());
    const changes = () => logs.filter((line) => line.msg === 'secret changed; now in use').length;

    down = true;
    writeFileSync(join(secrets, 'key'), 'flaky-second-value');
    await eventually(() => creates.filter((key) => key === 'flaky-second-value').length >= 2, 3_000);
    down = false;
    await eventually(() => changes() === 1, 3_000, 'the change applied once the backend is back');

    writeFileSync(join(secrets, 'key'), 'flaky-refused-value');
    await eventually(() => creates.includes('flaky-refused-value'), 3_000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(creates.filter((key) => key === 'flaky-refused-value')).toHaveLength(1);
    expect(changes()).toBe(1);
  });
});

describe('changes refused because of another secret, fifth review', () => {
  const A_ONE = 'fifth-review-token-a-one';
  const B_ONE = 'fifth-review-token-b-one';
  const B_TWO = 'fifth-review-token-b-two';

  it('a refused change is tried again once the configuration changes (its clash resolved), not only when it changes', async () => {
    const secrets = tempDir();
    writeFileSync(join(secrets, 'a'), A_ONE);
    writeFileSync(join(secrets, 'b'), B_ONE);
    const served = await serveForTest({
      authentication: {
        required: true,
        methods: {
          token: {
            enabled: true,
            storage: {
              tokens: { a: { credential: '${secret:file:a}' }, b: { credential: '${secret:file:b}' } },
            },
          },
        },
      },
      secrets: { refresh_interval: '100ms', providers: { file: { enabled: true, base_path: secrets } } },
    });
    // a takes b's value: refused (two tokens alike), kept pending.
    writeFileSync(join(secrets, 'a'), B_ONE);
    await eventually(
      () =>
        served.logs.some((line) =>
          String(line.msg).startsWith('a secret changed but the configuration could not start'),
        ),
      3_000,
    );
    // b moves on: the clash is gone, and a's change now applies.
    writeFileSync(join(secrets, 'b'), B_TWO);
    await eventually(async () => (await statusOf(served, B_TWO)) === 200, 3_000);
    await eventually(async () => (await statusOf(served, A_ONE)) === 401, 3_000, "a's old value refused");
    expect(await statusOf(served, B_ONE)).toBe(200);
  });

  it('a reload keeps at its last good value only the rotated secret that cannot start; the other rotations apply', async () => {
    const secrets = tempDir();
    writeFileSync(join(secrets, 'a'), A_ONE);
    writeFileSync(join(secrets, 'b'), B_ONE);
    writeFileSync(join(secrets, 'c'), 'fifth-review-token-c-one');
    const { write, logs, server, status } = await fromFile((extra) =>
      withTokens(secrets, { a: '${secret:file:a}', b: '${secret:file:b}', c: '${secret:file:c}', ...extra }),
    );
    // a rotates properly; b rotates onto c's value (a clash); and the file gains a token.
    writeFileSync(join(secrets, 'a'), 'fifth-review-token-a-two');
    writeFileSync(join(secrets, 'b'), 'fifth-review-token-c-one');
    write({ d: 'fifth-review-literal-d' });
    expect(await server.reload()).toBe(true);
    expect(await status('fifth-review-literal-d')).toBe(200);
    expect(await status('fifth-review-token-a-two')).toBe(200);
    expect(await status(A_ONE)).toBe(401);
    expect(await status(B_ONE)).toBe(200);
    const refused = logs.filter((line) =>
      String(line.msg).startsWith('a secret changed but the configuration could not start'),
    );
    expect(refused.map((line) => line.reference)).toEqual(['${secret:file:b}']);
  });
});

describe('a reload whose edit is broken while a secret rotates, sixth review', () => {
  it('is refused without blaming the secret, and the rotation applies at the next tick', async () => {
    const secrets = tempDir();
    writeFileSync(join(secrets, 'ci'), OLD);
    writeFileSync(join(secrets, 'not-a-key.pem'), 'not a key');
    const config = (extra: Record<string, unknown>) => ({
      ...withTokens(secrets, { ci: '${secret:file:ci}' }),
      secrets: { refresh_interval: '300ms', providers: { file: { enabled: true, base_path: secrets } } },
      ...extra,
    });
    const { write, logs, server, status } = await fromFile(config);
    writeFileSync(join(secrets, 'ci'), NEW);
    const broken = config({});
    (broken.authentication.methods as Record<string, unknown>).jwt = {
      enabled: true,
      public_key_file: join(secrets, 'not-a-key.pem'),
    };
    write({ authentication: broken.authentication });
    expect(await server.reload()).toBe(false);
    expect(
      logs.filter((line) =>
        String(line.msg).startsWith('a secret changed but the configuration could not start'),
      ),
    ).toEqual([]);
    await eventually(async () => (await status(NEW)) === 200, 3_000, 'the rotation applied');
    expect(await status(OLD)).toBe(401);
  });

  it("says what is wrong with the edit, not the rotated secret's clash", async () => {
    const secrets = tempDir();
    writeFileSync(join(secrets, 'v'), 'seventh-review-token-v-1');
    writeFileSync(join(secrets, 'a'), 'seventh-review-token-a-1');
    writeFileSync(join(secrets, 'not-a-key.pem'), 'not a key');
    const config = (jwt: boolean) => {
      const written = withTokens(secrets, { v: '${secret:file:v}', a: '${secret:file:a}' });
      if (jwt) {
        (written.authentication.methods as Record<string, unknown>).jwt = {
          enabled: true,
          public_key_file: join(secrets, 'not-a-key.pem'),
        };
      }
      return written;
    };
    const { file, logs, server } = await fromFile(() => config(false));
    // v rotates onto a's value (a clash), and the edit adds a jwt method with a broken key.
    writeFileSync(join(secrets, 'v'), 'seventh-review-token-a-1');
    writeFileSync(file, JSON.stringify(config(true)));
    expect(await server.reload()).toBe(false);
    const errors = logs.filter((line) => line.level === 'error').map((line) => String(line.msg));
    expect(errors[0]).toContain('plugin "jwt" failed in create');
    expect(errors.join('\n')).not.toContain('resolves to the same value');
  });
});

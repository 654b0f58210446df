import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent, fetch as undiciFetch } from 'undici';
import { describe, expect, it } from 'vitest';
import { ErrorCodes, SecretResolutionError } from './errors.ts';
import { createRegistry } from './plugins/builtins.ts';
import type { MethodContext, MethodPlugin, SecretProvider } from './plugins/contracts.ts';
import { startServer } from './server.ts';
import { registryWith, testMethod } from './test-support/plugins.ts';
import { createTestCa } from './test-support/tls.ts';
import { tempDir, tempFiles } from './test-support/tmp.ts';

const listen = { server: { host: '127.0.0.1', http_port: 0, https_port: 0, grpc_port: 0 } };

function capture() {
  const lines: string[] = [];
  return { lines, logDestination: { write: (line: string) => lines.push(line) } };
}

describe('startServer', () => {
  it('serves /health over HTTP and closes', async () => {
    const server = await startServer({ object: listen, env: {}, ...capture() });
    const response = await fetch(`${server.address}/health`);
    expect(await response.json()).toEqual({ status: 'SERVING', store: 'ready' });
    await server.close();
    await expect(fetch(`${server.address}/health`)).rejects.toThrow();
  });

  it('serves HTTPS with the configured certificate when protocol is https', async () => {
    const ca = createTestCa(tempDir());
    const { certFile, keyFile } = ca.issue(['localhost', '127.0.0.1']);
    const server = await startServer({
      object: { server: { ...listen.server, protocol: 'https', cert_file: certFile, cert_key: keyFile } },
      env: {},
      ...capture(),
    });
    try {
      expect(server.address).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const trusting = new Agent({ connect: { ca: ca.caPem } });
      const response = await undiciFetch(`${server.address}/health`, { dispatcher: trusting });
      expect(response.status).toBe(200);
      await expect(undiciFetch(`${server.address}/health`, { dispatcher: new Agent() })).rejects.toThrow();
    } finally {
      await server.close();
    }
  });

  it('resolves references before creating methods, and scrubs the values from every log line', async () => {
    const secrets = tempFiles({ 'csrf-key': 'csrf-secret-value\n' });
    const created: Array<{ config: unknown; context: MethodContext }> = [];
    let closed = 0;
    const spy: MethodPlugin<{ enabled: boolean; key: string }> = {
      kind: 'method',
      apiVersion: '^1.0.0',
      name: 'spy',
      method: 'METHOD_SPY',
      sessionCompatible: false,
      configSchema: { type: 'object', additionalProperties: false, properties: { key: { type: 'string' } } },
      create(context, config) {
        created.push({ config, context });
        context.log.info(`created with ${config.key}`);
        return { close: () => void closed++ };
      },
    };
    const registry = createRegistry();
    registry.register({
      kind: 'method',
      name: 'spy',
      configSchema: spy.configSchema,
      origin: 'test',
      load: async () => spy,
    });
    const { lines, logDestination } = capture();
    const server = await startServer({
      object: {
        ...listen,
        secrets: { providers: { file: { enabled: true, base_path: secrets } } },
        authentication: { methods: { spy: { enabled: true, key: '${secret:file:csrf-key}' } } },
      },
      registry,
      env: {},
      logDestination,
    });
    await server.close();
    expect(created).toHaveLength(1);
    expect(created[0]?.config).toEqual({ enabled: true, key: 'csrf-secret-value' });
    expect(created[0]?.context.root.authentication.methods.spy?.key).toBe('csrf-secret-value');
    expect(closed).toBe(1);
    expect(lines.some((line) => line.includes('"msg":"created with [REDACTED]"'))).toBe(true);
    expect(lines.join('')).not.toContain('csrf-secret-value');
  });

  it('applies nothing and closes what it opened when a reference cannot be resolved', async () => {
    let opened = 0;
    let closed = 0;
    const memory: SecretProvider<{ enabled: boolean }> = {
      kind: 'secrets',
      apiVersion: '^1.0.0',
      name: 'memory',
      configSchema: { type: 'object', additionalProperties: false, properties: {} },
      create() {
        opened++;
        return {
          get: async (path) => {
            if (path === 'present') return 'present-value';
            throw Object.assign(new Error(`secret not found at path "${path}"`), {
              code: ErrorCodes.SECRET_NOT_FOUND,
            });
          },
          close: () => void closed++,
        };
      },
    };
    const registry = createRegistry();
    registry.register({
      kind: 'secrets',
      name: 'memory',
      configSchema: memory.configSchema,
      origin: 'test',
      load: async () => memory,
    });
    const error = await startServer({
      object: {
        ...listen,
        secrets: { providers: { memory: { enabled: true } } },
        authentication: {
          session: { csrf: { key: '${secret:memory:present}' }, domain: '${secret:memory:absent}' },
        },
      },
      registry,
      env: {},
      ...capture(),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SecretResolutionError);
    expect((error as SecretResolutionError).failures.map((f) => f.reference)).toEqual([
      '${secret:memory:absent}',
    ]);
    expect({ opened, closed }).toEqual({ opened: 1, closed: 1 });
  });

  it('stops at once, not after startup_timeout, when a secret store cannot start for a reason no wait mends', async () => {
    const started = Date.now();
    // No region anywhere: a setting the store cannot do without, unlike a store that cannot be reached yet.
    await expect(
      startServer({
        object: { ...listen, secrets: { providers: { aws: { enabled: true } } } },
        env: {
          AWS_CONFIG_FILE: '/nonexistent/aws-config',
          AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
        },
        ...capture(),
      }),
    ).rejects.toMatchObject({
      code: ErrorCodes.SECRET_PROVIDER,
      plugin: 'aws',
      message: expect.stringContaining('no region'),
    });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('keeps credentials written in the file (writeOnly settings) out of log lines too', async () => {
    const chatty = testMethod(
      'chatty',
      (context, config) => {
        context.log.info(`key is ${String(config.key)}, label is ${String(config.label)}`);
        return {};
      },
      { properties: { key: { type: 'string', writeOnly: true }, label: { type: 'string' } } },
    );
    const registry = registryWith(chatty);
    const { lines, logDestination } = capture();
    const server = await startServer({
      object: {
        ...listen,
        authentication: {
          methods: {
            chatty: { enabled: true, key: 'literal-key-in-the-file', label: 'shown-label' },
            token: { enabled: true, storage: { tokens: { ci: { credential: 'static-token-in-the-file' } } } },
          },
        },
      },
      env: {},
      registry,
      logDestination,
    });
    await server.close();
    expect(lines.some((line) => line.includes('"msg":"key is [REDACTED], label is shown-label"'))).toBe(true);
    expect(lines.join('')).not.toContain('literal-key-in-the-file');
  });

  it('closes once a request that was inside a slow method is answered, though its client keeps the connection', async () => {
    const slow = testMethod('slow', () => ({
      schemes: ['Slow'],
      async authenticate() {
        await new Promise((resolve) => setTimeout(resolve, 100));
        return { id: 'slow-caller', method: 'METHOD_SLOW', metadata: {} };
      },
    }));
    const registry = registryWith(slow);
    const server = await startServer({
      object: { ...listen, authentication: { required: true, methods: { slow: { enabled: true } } } },
      env: {},
      registry,
      ...capture(),
    });
    // A client that keeps idle connections open for as long as the server lets it (Node's agent has no idle timeout).
    const agent = new HttpAgent({ keepAlive: true });
    try {
      const answered = new Promise<number | undefined>((resolve, reject) => {
        const request = httpRequest(`${server.address}/auth/v1/self`, {
          agent,
          headers: { authorization: 'Slow x' },
        });
        request.on('response', (response) => {
          response.resume();
          resolve(response.statusCode);
        });
        request.on('error', reject);
        request.end();
      });
      await new Promise((resolve) => setTimeout(resolve, 30));
      await server.close();
      expect(await answered).toBe(200);
    } finally {
      agent.destroy();
    }
  });
});

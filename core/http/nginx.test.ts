/**
 * Forward-auth end to end with a real nginx (Debian's, `nginx-light`, which `.ci/run` installs): `auth_request`
 * to portcullis protects a location, and the identity reaches the service behind nginx.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { freePort, retryOnPortClash } from '../test-support/ports.ts';
import { bearer, serveForTest } from '../test-support/server.ts';
import { tempDir } from '../test-support/tmp.ts';
import { startUpstream } from '../test-support/upstream.ts';

function nginxBinary(): string {
  for (const candidate of ['/usr/sbin/nginx', 'nginx']) {
    try {
      execFileSync(candidate, ['-v'], { stdio: 'ignore' });
      return candidate;
    } catch {}
  }
  throw new Error('nginx is not installed: apt-get install nginx-light (.ci/run does)');
}

async function startNginx(config: (port: number, dir: string) => string): Promise<number> {
  const dir = tempDir();
  for (const sub of ['logs', 'body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, sub));
  const port = await freePort();
  writeFileSync(join(dir, 'nginx.conf'), config(port, dir));
  const nginx: ChildProcess = spawn(nginxBinary(), ['-p', dir, '-c', join(dir, 'nginx.conf')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let errors = '';
  nginx.stderr?.on('data', (chunk: Buffer) => {
    errors += chunk;
  });
  onTestFinished(() => {
    nginx.kill('SIGTERM');
  });
  for (const deadline = Date.now() + 10_000; ; ) {
    if (nginx.exitCode !== null) throw new Error(`nginx exited: ${errors}`);
    const up = await fetch(`http://127.0.0.1:${port}/`).then(
      () => true,
      () => false,
    );
    if (up) return port;
    if (Date.now() > deadline) throw new Error(`nginx did not start: ${errors}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('forward-auth behind nginx auth_request', () => {
  it('protects a location end to end and hands the identity to the service', async () => {
    const upstream = await startUpstream();
    const portcullis = await serveForTest({
      authentication: {
        required: true,
        exclude: { ofrep: true },
        methods: { token: { enabled: true, storage: { tokens: { ci: { credential: 'ci-secret' } } } } },
      },
    });
    const port = await retryOnPortClash(() =>
      startNginx(
        (listen, dir) => `
daemon off;
master_process off;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${listen};
    location = / { return 204; }
    location /private/ {
      auth_request /_portcullis;
      auth_request_set $auth_id $upstream_http_x_auth_request_id;
      auth_request_set $auth_method $upstream_http_x_auth_request_method;
      auth_request_set $auth_user $upstream_http_x_auth_request_user;
      auth_request_set $auth_email $upstream_http_x_auth_request_email;
      proxy_set_header X-Auth-Request-Id $auth_id;
      proxy_set_header X-Auth-Request-Method $auth_method;
      proxy_set_header X-Auth-Request-User $auth_user;
      proxy_set_header X-Auth-Request-Email $auth_email;
      proxy_set_header Authorization "";
      proxy_pass ${upstream.url};
    }
    location /public/ {
      proxy_pass ${upstream.url};
    }
    location = /_portcullis {
      internal;
      proxy_pass ${portcullis.url('/auth/v1/forward')};
      proxy_method GET;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Forwarded-Uri $request_uri;
      proxy_set_header X-Forwarded-Method $request_method;
    }
  }
}
`,
      ),
    );
    const through = (path: string, headers: Record<string, string> = {}) =>
      fetch(`http://127.0.0.1:${port}${path}`, { headers });

    expect((await through('/private/report')).status).toBe(401);
    expect((await through('/private/report', bearer('wrong'))).status).toBe(401);
    // The client's own X-Forwarded-Uri is replaced by nginx; claiming an excluded section gets nowhere.
    expect((await through('/private/report', { 'x-forwarded-uri': '/ofrep/v1/evaluate/flags' })).status).toBe(
      401,
    );
    expect(upstream.received).toEqual([]);

    const allowed = await through('/private/report?x=1', {
      ...bearer('ci-secret'),
      'x-auth-request-id': 'someone-else',
      'x-auth-request-email': 'boss@example.com',
    });
    expect(allowed.status).toBe(200);
    expect(await allowed.json()).toMatchObject({ ok: true, url: '/private/report?x=1' });
    expect(upstream.received[0]?.headers).toMatchObject({
      'x-auth-request-id': 'ci',
      'x-auth-request-user': 'ci',
      'x-auth-request-method': 'METHOD_TOKEN',
    });
    // Forged ones are replaced (nginx drops a header set to what the identity lacks) and the credential stays behind.
    expect(upstream.received[0]?.headers['x-auth-request-email']).toBeUndefined();
    expect(upstream.received[0]?.headers.authorization).toBeUndefined();

    expect((await through('/public/page')).status).toBe(200);
    // Only the two refused requests were judged refused; the public location never asked.
    const refusals = portcullis.logs.filter((line) => line.outcome === 'unauthenticated');
    expect(refusals.map((line) => line.path)).toEqual([
      '/private/report',
      '/private/report',
      '/private/report',
    ]);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../core/test-support/load.ts';
import {
  httpReady,
  image,
  type Started,
  type SuiteNetwork,
  start,
  suiteNetwork,
} from './support/containers.ts';
import { type Portcullis, startPortcullis } from './support/portcullis.ts';

const TOKEN = 'conformance-gateway-token-5d1c';

const config = `
authentication:
  required: true
  methods:
    token:
      enabled: true
      storage:
        tokens:
          ci:
            credential: ${TOKEN}
gateway:
  upstream: http://service:8080
server:
  host: 0.0.0.0
  http_port: 8080
`;

// The nginx configuration of the README's forward-auth section, with portcullis at portcullis:8080.
const nginxConfig = `
worker_processes 1;
events { worker_connections 64; }
http {
  server {
    listen 80;
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
      proxy_pass http://service:8080;
    }
    location /public/ {
      proxy_pass http://service:8080;
    }
    location = /_portcullis {
      internal;
      proxy_method GET;
      proxy_pass http://portcullis:8080/auth/v1/forward;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Forwarded-Uri $request_uri;
      proxy_set_header X-Forwarded-Method $request_method;
    }
  }
}
`;

interface Echo {
  readonly method: string;
  readonly url: string;
  readonly headers: Record<string, string>;
}

describe('gateway', () => {
  let network: SuiteNetwork;
  let service: Started;
  let portcullis: Portcullis;
  let nginx: Started;

  beforeAll(async () => {
    network = await suiteNetwork('gateway');
    service = await start(image('upstream'), {
      network,
      alias: 'service',
      ports: [8080],
      wait: httpReady('/', 8080),
    });
    portcullis = await startPortcullis(network, config);
    nginx = await start(image('nginx'), {
      network,
      alias: 'nginx',
      ports: [80],
      files: { '/etc/nginx/nginx.conf': nginxConfig },
      wait: httpReady('/public/', 80),
    });
  });
  afterAll(async () => {
    await Promise.all([nginx?.stop(), portcullis?.stop(), service?.stop()]);
    await network?.remove();
  });

  it('proxies an authenticated request with the identity headers, and not the credential', async () => {
    const response = await fetch(`${portcullis.url}/reports/q3?x=1`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${TOKEN}`,
        'x-auth-request-user': 'forged',
        'content-type': 'text/plain',
      },
      body: 'hello',
    });
    expect(response.status, 'POST /reports/q3 through the gateway').toBe(200);
    const echo = (await response.json()) as Echo;
    expect(echo).toMatchObject({ method: 'POST', url: '/reports/q3?x=1' });
    expect(echo.headers).toMatchObject({
      'x-auth-request-id': 'ci',
      'x-auth-request-method': 'METHOD_TOKEN',
      'x-auth-request-user': 'ci',
    });
    expect(echo.headers.authorization).toBeUndefined();
    expect(echo.headers['x-forwarded-for']).toMatch(/\d/);
  });

  it('refuses a request without a credential with 401 and never asks the upstream', async () => {
    const response = await fetch(`${portcullis.url}/refused/q3`);
    expect(response.status, 'GET /refused/q3 without a credential').toBe(401);
    expect(await response.json()).toEqual({
      code: 16,
      message: 'request was not authenticated',
      details: [],
    });
    // Flipt's gateway puts the message in WWW-Authenticate.
    expect(response.headers.get('www-authenticate')).toBe('request was not authenticated');
    const wrong = await fetch(`${portcullis.url}/refused/q3`, {
      headers: { authorization: 'Bearer not-the-token' },
    });
    expect(wrong.status, 'GET /refused/q3 with an unknown token').toBe(401);
    // The upstream logs every request it gets: it saw the proxied one of the case before, and none of these. Its
    // log comes through the engine, which may deliver that line a moment later on a busy machine.
    await eventually(
      () => service.output().includes('POST /reports/q3?x=1'),
      10_000,
      "the upstream's log line",
    );
    expect(service.output(), 'the upstream got a refused request').not.toContain('/refused/');
  });

  it('answers nginx auth_request: 401 without a credential, the identity to the service with one', async () => {
    expect((await fetch(`${nginx.url}/private/report`)).status, 'nginx /private/ without a credential').toBe(
      401,
    );
    const response = await fetch(`${nginx.url}/private/report`, {
      headers: { authorization: `Bearer ${TOKEN}`, 'x-auth-request-user': 'forged' },
    });
    expect(response.status, 'nginx /private/ with the token').toBe(200);
    const echo = (await response.json()) as Echo;
    expect(echo.url).toBe('/private/report');
    expect(echo.headers).toMatchObject({
      'x-auth-request-id': 'ci',
      'x-auth-request-method': 'METHOD_TOKEN',
      'x-auth-request-user': 'ci',
    });
    expect(echo.headers.authorization).toBeUndefined();
    expect((await fetch(`${nginx.url}/public/page`)).status, 'nginx /public/ passes without asking').toBe(
      200,
    );
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SuiteNetwork, suiteNetwork } from './support/containers.ts';
import { type Portcullis, startPortcullis } from './support/portcullis.ts';

const config = `
authentication:
  required: true
  methods:
    token:
      enabled: true
server:
  host: 0.0.0.0
  http_port: 8080
log:
  level: info
`;

describe('token API', () => {
  let network: SuiteNetwork;
  let portcullis: Portcullis;
  let bootstrap: string;
  let created: { clientToken: string; authentication: { id: string } };

  beforeAll(async () => {
    network = await suiteNetwork('tokens');
    portcullis = await startPortcullis(network, config);
  });
  afterAll(async () => {
    await portcullis?.stop();
    await network?.remove();
  });

  const call = (path: string, token: string, init: RequestInit = {}) =>
    fetch(`${portcullis.url}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...init.headers },
    });

  it('logs a bootstrap token that authenticates', async () => {
    bootstrap = await portcullis.bootstrapToken();
    const self = await call('/auth/v1/self', bootstrap);
    expect(self.status, 'GET /auth/v1/self with the bootstrap token').toBe(200);
    expect(((await self.json()) as { method: string }).method).toBe('METHOD_TOKEN');
  });

  it('creates a token with the bootstrap token', async () => {
    const response = await call('/auth/v1/method/token', bootstrap, {
      method: 'POST',
      body: JSON.stringify({ name: 'ci', description: 'conformance' }),
    });
    expect(response.status, 'POST /auth/v1/method/token').toBe(200);
    created = (await response.json()) as typeof created;
    expect(created.clientToken).toMatch(/\S{20,}/);
    expect((await call('/auth/v1/self', created.clientToken)).status, 'the new token on /auth/v1/self').toBe(
      200,
    );
  });

  it('lists the tokens', async () => {
    const response = await call('/auth/v1/tokens', bootstrap);
    expect(response.status, 'GET /auth/v1/tokens').toBe(200);
    const { authentications } = (await response.json()) as { authentications: Array<{ id: string }> };
    expect(authentications.map((authentication) => authentication.id)).toContain(created.authentication.id);
    expect(authentications).toHaveLength(2);
  });

  it('deletes a token, which is then refused', async () => {
    const response = await call(`/auth/v1/tokens/${created.authentication.id}`, bootstrap, {
      method: 'DELETE',
    });
    expect(response.status, 'DELETE /auth/v1/tokens/{id}').toBe(200);
    const refused = await call('/auth/v1/self', created.clientToken);
    expect(refused.status, 'the deleted token on /auth/v1/self').toBe(401);
    expect(await refused.json()).toEqual({ code: 16, message: 'request was not authenticated', details: [] });
  });
});

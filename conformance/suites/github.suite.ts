import { readFileSync } from 'node:fs';
import { Wait } from 'testcontainers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser, formsOf, type Page } from '../../core/test-support/browser.ts';
import { image, type Started, type SuiteNetwork, start, suiteNetwork } from './support/containers.ts';
import { type Portcullis, startPortcullis } from './support/portcullis.ts';
import { step } from './support/step.ts';

/** The fake's own fixture, with its app's callback where portcullis is on the suite's network. */
const fixture = JSON.parse(readFileSync(new URL('../fake-github/fixture.json', import.meta.url), 'utf8')) as {
  apps: Array<{ client_id: string; client_secret: string; callback_url: string }>;
};
const app = fixture.apps[0];
if (app === undefined) throw new Error('conformance/fake-github/fixture.json has no app');
app.callback_url = 'http://portcullis:8080/auth/v1/method/github/callback';

const config = `
authentication:
  required: true
  session:
    domain: portcullis
  methods:
    github:
      enabled: true
      server_url: http://github:8080
      api_url: http://github:8081
      client_id: ${app.client_id}
      client_secret: ${app.client_secret}
      redirect_address: http://portcullis:8080
      scopes: [read:org]
      allowed_organizations: [octo-org]
      allowed_teams:
        octo-org: [flipt-admins]
server:
  host: 0.0.0.0
  http_port: 8080
`;

describe('GitHub against the fake GitHub', () => {
  let network: SuiteNetwork;
  let github: Started;
  let portcullis: Portcullis;

  beforeAll(async () => {
    network = await suiteNetwork('github');
    github = await start(image('fake-github'), {
      network,
      alias: 'github',
      ports: [8080, 8081],
      files: { '/etc/fake-github/fixture.json': JSON.stringify(fixture) },
      command: ['--fixture', '/etc/fake-github/fixture.json'],
      // The REST API answers (401 without a token; as GitHub, 403 without a User-Agent) once the fake is up.
      wait: Wait.forHttp('/user', 8081).withHeaders({ 'User-Agent': 'conformance' }).forStatusCode(401),
    });
    portcullis = await startPortcullis(network, config);
  });
  afterAll(async () => {
    await Promise.all([portcullis?.stop(), github?.stop()]);
    await network?.remove();
  });

  const browser = () =>
    new Browser({
      hosts: {
        'portcullis:8080': `127.0.0.1:${portcullis.port}`,
        'github:8080': `127.0.0.1:${github.port}`,
        'github:8081': `127.0.0.1:${github.container.getMappedPort(8081)}`,
      },
    });

  /** authorize, GitHub's authorize form (the fake takes any password for a user of its fixture), the callback. */
  async function login(b: Browser, who: string): Promise<Page> {
    const authorizeUrl = await step('authorize', async () => {
      const page = await b.request('http://portcullis:8080/auth/v1/method/github/authorize');
      expect(page.status, 'GET /auth/v1/method/github/authorize').toBe(200);
      return (JSON.parse(page.body) as { authorizeUrl: string }).authorizeUrl;
    });
    const atGitHub = await step('log in at GitHub', async () => {
      const page = await b.navigate(authorizeUrl);
      const [form] = formsOf(page);
      expect(form, `GitHub's authorize page (${page.status} at ${page.url}) has a form`).toBeDefined();
      if (form === undefined) throw new Error('no form');
      const answer = await b.submit(form, { login: who, password: 'any' }, (next) =>
        (next.headers.get('location') ?? '').includes('/callback?'),
      );
      expect(answer.headers.get('location'), `GitHub sends ${who} back to portcullis`).toMatch(
        /^http:\/\/portcullis:8080\/auth\/v1\/method\/github\/callback\?/,
      );
      return answer;
    });
    return step('callback', () => b.request(atGitHub.headers.get('location') ?? ''));
  }

  it('gives a member of an allowed organisation and team a session', async () => {
    const b = browser();
    try {
      const callback = await login(b, 'octocat');
      await step('callback', async () => {
        expect(callback.status, `callback answered ${callback.status}: ${callback.body.slice(0, 200)}`).toBe(
          302,
        );
        expect(await b.cookie('http://portcullis:8080/', 'flipt_client_token')).toBeDefined();
      });
      await step('GET /auth/v1/self', async () => {
        const page = await b.request('http://portcullis:8080/auth/v1/self');
        expect(page.status, 'GET /auth/v1/self with the session cookie').toBe(200);
        const self = JSON.parse(page.body) as { method: string; metadata: Record<string, string> };
        expect(self.method).toBe('METHOD_GITHUB');
        expect(self.metadata).toMatchObject({
          'io.flipt.auth.github.preferred_username': 'octocat',
          'io.flipt.auth.github.email': 'octocat@github.com',
        });
      });
    } finally {
      await b.close();
    }
  });

  // Flipt's refusals: 401 with these messages (the reference's github section).
  for (const [who, why, message] of [
    ['stranger', 'in no allowed organisation', 'account does not satisfy the organization requirements'],
    ['hubot', 'in octo-org but not in an allowed team', 'account does not satisfy the team requirements'],
  ] as const) {
    it(`refuses a user ${why}`, async () => {
      const b = browser();
      try {
        const callback = await login(b, who);
        await step('callback', async () => {
          expect(callback.status, `callback for ${who}: ${callback.body.slice(0, 200)}`).toBe(401);
          expect((JSON.parse(callback.body) as { message: string }).message).toContain(message);
          expect(await b.cookie('http://portcullis:8080/', 'flipt_client_token')).toBeUndefined();
        });
        const self = await b.request('http://portcullis:8080/auth/v1/self');
        expect(self.status, 'GET /auth/v1/self after the refusal').toBe(401);
      } finally {
        await b.close();
      }
    });
  }
});

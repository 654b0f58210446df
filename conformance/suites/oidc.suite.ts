import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser, type Page } from '../../core/test-support/browser.ts';
import { type IdpUser, readFixture } from '../images/test-idp/fixture.ts';
import {
  httpReady,
  image,
  type Started,
  type SuiteNetwork,
  start,
  suiteNetwork,
} from './support/containers.ts';
import { type IdpDriver, idpDrivers } from './support/idp-drivers.ts';
import { type Portcullis, startPortcullis } from './support/portcullis.ts';
import { step } from './support/step.ts';

// The clients and users the IdP serves, read (and checked) as the test IdP reads them.
const fixture = readFixture(new URL('../fixtures/idp.json', import.meta.url).pathname);
const user = (email: string) => {
  const found = fixture.users.find((candidate) => candidate.email === email);
  if (found === undefined) throw new Error(`no ${email} in conformance/fixtures/idp.json`);
  return found;
};
const client = (provider: string) => {
  const found = fixture.clients.find((candidate) =>
    candidate.redirectURIs.includes(`http://portcullis:8080/auth/v1/method/oidc/${provider}/callback`),
  );
  if (found === undefined)
    throw new Error(`no client for provider ${provider} in conformance/fixtures/idp.json`);
  return found;
};
const ada = user('ada@example.com');
const grace = user('grace@example.com');
const mallory = user('mallory@example.org');

const idpName = (process.env.PORTCULLIS_CONFORMANCE_IDP ?? 'test-idp') as IdpDriver['name'];
const driver = idpDrivers[idpName];

const provider = (name: string, extra = '') => `
        ${name}:
          issuer_url: http://idp:5556/dex
          client_id: ${client(name).id}
          client_secret: ${client(name).secret}
          redirect_address: http://portcullis:8080
          scopes: [email, profile, groups]
          use_end_session_endpoint: ${driver.endSession}${extra}`;

/** portcullis as the IdP's clients know it: http://portcullis:8080, sessions for that host. */
const config = (domain: string) => `
authentication:
  required: true
  session:
    domain: ${domain}
  methods:
    oidc:
      enabled: true
      email_matches: ['@example\\.com$']
      providers:${provider('dex')}${provider('dexpkce', '\n          use_pkce: true')}
server:
  host: 0.0.0.0
  http_port: 8080
`;

/** The IdP container: Dex from CONFORMANCE_DEX_IMAGE with the repository's config, or the test IdP. */
async function startIdp(network: SuiteNetwork): Promise<Started> {
  // Both serve discovery under the issuer, http://idp:5556/dex.
  const wait = httpReady('/dex/.well-known/openid-configuration', 5556);
  if (idpName === 'dex') {
    return start(process.env.CONFORMANCE_DEX_IMAGE ?? '', {
      network,
      alias: 'idp',
      ports: [5556],
      files: {
        '/etc/dex/config.yaml': readFileSync(new URL('../fixtures/dex/config.yaml', import.meta.url), 'utf8'),
      },
      command: ['dex', 'serve', '/etc/dex/config.yaml'],
      wait,
    });
  }
  return start(image('test-idp'), {
    network,
    alias: 'idp',
    ports: [5556],
    wait,
  });
}

// The IdP each case ran against, for the report (set on the block, so that a case whose set-up failed has it too).
describe(`OIDC against ${idpName}`, { meta: { idp: idpName } }, () => {
  let network: SuiteNetwork;
  let idp: Started;
  let portcullis: Portcullis;
  /** The same portcullis, with a session.domain the browser never visits: logins must fail, and say where. */
  let broken: Portcullis;

  beforeAll(async () => {
    network = await suiteNetwork('oidc');
    idp = await startIdp(network);
    [portcullis, broken] = await Promise.all([
      startPortcullis(network, config('portcullis')),
      startPortcullis(network, config('portcullis.example'), { alias: 'portcullis-broken' }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([portcullis?.stop(), broken?.stop(), idp?.stop()]);
    await network?.remove();
  });

  /** A browser that reaches the containers by the names they have on their network, as one there would. */
  const browser = (target: Portcullis = portcullis) =>
    new Browser({
      hosts: {
        'portcullis:8080': `127.0.0.1:${target.port}`,
        'idp:5556': `127.0.0.1:${idp.port}`,
      },
    });

  /** portcullis's authorization URL at the IdP for `providerName`, as `GET …/authorize` hands it out. */
  async function authorizeUrl(b: Browser, providerName: string): Promise<URL> {
    const page = await b.request(`http://portcullis:8080/auth/v1/method/oidc/${providerName}/authorize`);
    expect(
      page.status,
      `GET /auth/v1/method/oidc/${providerName}/authorize: ${page.body.slice(0, 200)}`,
    ).toBe(200);
    return new URL((JSON.parse(page.body) as { authorizeUrl: string }).authorizeUrl);
  }

  /** authorize, the IdP's login, then portcullis's callback, each a named step; the callback's page. */
  async function login(b: Browser, providerName: string, who: IdpUser): Promise<Page> {
    const authorize = await step('authorize', () => authorizeUrl(b, providerName));
    const atIdp = await step(`log in at ${idpName}`, () => driver.login(b, authorize.href, who));
    return step('callback', () => b.request(new URL(atIdp.headers.get('location') ?? '', atIdp.url).href));
  }

  const self = (b: Browser) =>
    step('GET /auth/v1/self', async () => {
      const page = await b.request('http://portcullis:8080/auth/v1/self');
      return {
        status: page.status,
        body: JSON.parse(page.body) as { method?: string; metadata?: Record<string, string> },
      };
    });

  async function expectSignedIn(b: Browser, providerName: string, who: IdpUser, callback: Page) {
    await step('callback', async () => {
      expect(callback.status, `callback answered ${callback.status}: ${callback.body.slice(0, 200)}`).toBe(
        302,
      );
      const token = await b.cookie('http://portcullis:8080/', 'flipt_client_token');
      expect(token, 'the callback set flipt_client_token for portcullis').toBeDefined();
    });
    const me = await self(b);
    await step('GET /auth/v1/self', async () => {
      expect(me.status, 'GET /auth/v1/self with the session cookie').toBe(200);
      expect(me.body.method).toBe('METHOD_OIDC');
      expect(me.body.metadata).toMatchObject({
        'io.flipt.auth.oidc.provider': providerName,
        'io.flipt.auth.oidc.email': who.email,
        'io.flipt.auth.email': who.email,
      });
    });
  }

  it('logs in without PKCE; /auth/v1/self answers with the session', async () => {
    const b = browser();
    try {
      await step('authorize', async () => {
        const url = await authorizeUrl(b, 'dex');
        expect(url.searchParams.get('code_challenge'), 'no PKCE challenge for provider dex').toBeNull();
      });
      await expectSignedIn(b, 'dex', ada, await login(b, 'dex', ada));
    } finally {
      await b.close();
    }
  });

  it('logs in with PKCE (S256)', async () => {
    const b = browser();
    try {
      await step('authorize', async () => {
        const url = await authorizeUrl(b, 'dexpkce');
        expect(url.searchParams.get('code_challenge_method'), 'provider dexpkce sends a challenge').toBe(
          'S256',
        );
      });
      await expectSignedIn(b, 'dexpkce', grace, await login(b, 'dexpkce', grace));
    } finally {
      await b.close();
    }
  });

  it('refuses a user whose email does not match email_matches', async () => {
    const b = browser();
    try {
      const callback = await login(b, 'dex', mallory);
      await step('callback', async () => {
        expect(callback.status, `callback for ${mallory.email}`).toBe(403);
        expect(await b.cookie('http://portcullis:8080/', 'flipt_client_token')).toBeUndefined();
      });
      expect((await self(b)).status, 'GET /auth/v1/self after the refusal').toBe(401);
    } finally {
      await b.close();
    }
  });

  const logout = driver.endSession
    ? 'logs out at the IdP too (RP-initiated logout)'
    : `logs out at the IdP too (skipped: ${idpName} has no RP-initiated logout)`;
  it.skipIf(!driver.endSession)(logout, async () => {
    const b = browser();
    try {
      await expectSignedIn(b, 'dex', ada, await login(b, 'dex', ada));
      const nextUri = await step('DELETE /auth/v1/self/revoke', async () => {
        const revoke = await b.request('http://portcullis:8080/auth/v1/self/revoke', { method: 'DELETE' });
        expect(revoke.status, 'DELETE /auth/v1/self/revoke').toBe(200);
        const { nextUri: next } = JSON.parse(revoke.body) as { nextUri?: string };
        expect(next, 'revoke answers the IdP end-session URL as nextUri').toMatch(
          /^http:\/\/idp:5556\/dex\//,
        );
        return next ?? '';
      });
      const done = await step(`log out at ${idpName}`, async () => {
        if (driver.logout === undefined) throw new Error(`the ${idpName} driver has no logout`);
        return driver.logout(b, nextUri);
      });
      expect(new URL(done.headers.get('location') ?? '').origin, 'the IdP sends the browser back').toBe(
        'http://portcullis:8080',
      );
      expect((await self(b)).status, 'GET /auth/v1/self after logout').toBe(401);
    } finally {
      await b.close();
    }
  });

  it('fails, naming the step, against a portcullis whose session.domain is wrong (the suite can fail)', async () => {
    const b = browser(broken);
    try {
      const failure = await login(b, 'dex', ada)
        .then((callback) => expectSignedIn(b, 'dex', ada, callback))
        .then(
          () => undefined,
          (error: Error) => error,
        );
      expect(failure, 'the login through the broken portcullis failed').toBeInstanceOf(Error);
      expect(failure?.message).toMatch(/^step "(callback|GET \/auth\/v1\/self)"/);
    } finally {
      await b.close();
    }
  });
});

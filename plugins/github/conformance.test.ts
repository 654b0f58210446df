import { afterAll } from 'vitest';
import { startFakeGitHub } from '../../conformance/fake-github/fake-github.ts';
import { readFixture } from '../../conformance/fake-github/fixture.ts';
import { methodPluginCases } from '../../conformance/kit/index.ts';
import { sessionBearer } from '../../conformance/kit/test-support/browser-login.ts';
import { describeCases } from '../../conformance/kit/vitest.ts';
import { freePort } from '../../core/test-support/ports.ts';
import github from './index.ts';

const CLIENT_SECRET = 'conformance-github-secret-d93e17';
// The callback URL is registered with the app before portcullis starts, so portcullis gets a fixed port.
const port = await freePort();
const base = `http://localhost:${port}`;
const fixture = readFixture(new URL('../../conformance/fake-github/fixture.json', import.meta.url).pathname);
const fake = await startFakeGitHub({
  fixture: {
    ...fixture,
    apps: [
      {
        client_id: 'conformance-app',
        client_secret: CLIENT_SECRET,
        callback_url: `${base}/auth/v1/method/github/callback`,
      },
    ],
  },
});
afterAll(() => fake.close());

/** A browser login (authorize, GitHub's login form, callback): the session token, as Bearer. */
const signedIn = () => sessionBearer(base, 'github', () => ({ login: 'octocat', password: 'any' }));

describeCases(
  'github: conformance',
  methodPluginCases(github, {
    config: {
      client_id: 'conformance-app',
      client_secret: CLIENT_SECRET,
      redirect_address: base,
      server_url: fake.serverUrl,
      api_url: fake.apiUrl,
      scopes: ['user:email', 'read:org'],
    },
    root: {
      server: { host: 'localhost', http_port: port },
      authentication: { session: { domain: 'localhost' } },
    },
    goodCredential: signedIn,
    // GitHub owns no Authorization scheme: a forged session token is refused by the server.
    badCredential: 'Bearer conformance-forged-session-token-c61b',
    secrets: [CLIENT_SECRET],
  }),
);

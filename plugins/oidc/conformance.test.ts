import { afterAll } from 'vitest';
import { methodPluginCases } from '../../conformance/kit/index.ts';
import { sessionBearer } from '../../conformance/kit/test-support/browser-login.ts';
import { describeCases } from '../../conformance/kit/vitest.ts';
import { startTestProvider } from '../../core/test-support/openid-provider.ts';
import { freePort } from '../../core/test-support/ports.ts';
import oidc from './index.ts';

const CLIENT_SECRET = 'conformance-client-secret-8c2f41';
// The redirect address is registered at the provider before portcullis starts, so portcullis gets a fixed port.
const port = await freePort();
const base = `http://localhost:${port}`;
const op = await startTestProvider({
  clients: [
    {
      client_id: 'conformance',
      client_secret: CLIENT_SECRET,
      redirect_uris: [`${base}/auth/v1/method/oidc/main/callback`],
    },
  ],
  accounts: { mark: { email: 'mark@flipt.io', email_verified: true, name: 'Mark Phelps' } },
});
afterAll(() => op.close());

/** A browser login (authorize, the provider's login and consent forms, callback): the session token, as Bearer. */
const signedIn = () =>
  sessionBearer(
    base,
    'oidc/main',
    (form): Record<string, string> =>
      form.fields.prompt === 'login' ? { login: 'mark', password: 'x' } : {},
  );

describeCases(
  'oidc: conformance',
  methodPluginCases(oidc, {
    config: {
      providers: {
        main: {
          issuer_url: op.issuer,
          client_id: 'conformance',
          client_secret: CLIENT_SECRET,
          redirect_address: base,
          scopes: ['email', 'profile'],
        },
      },
    },
    root: {
      server: { host: 'localhost', http_port: port },
      authentication: { session: { domain: 'localhost' } },
    },
    goodCredential: signedIn,
    // OIDC owns no Authorization scheme: a forged session token is refused by the server.
    badCredential: 'Bearer conformance-forged-session-token-5a0c',
    secrets: [CLIENT_SECRET],
  }),
);

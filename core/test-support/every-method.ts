/**
 * The `authentication` section with every built-in method enabled (token with one static credential, oidc, github,
 * kubernetes, jwt), none of which reaches anything before a first login or token but Kubernetes' discovery: what
 * start-up is measured (bench/startup-all.ts) and kept lazy (core/lazy-start.test.ts) with.
 */
export function everyMethodAuthentication(
  credential: string,
  kubernetes: Record<string, unknown>,
): Record<string, unknown> {
  return {
    required: true,
    session: { domain: 'flipt.example.com' },
    methods: {
      token: { enabled: true, storage: { tokens: { static: { credential } } } },
      oidc: {
        enabled: true,
        providers: {
          google: {
            issuer_url: 'https://accounts.google.com',
            client_id: 'id',
            client_secret: 'secret',
            redirect_address: 'https://flipt.example.com',
          },
        },
      },
      github: {
        enabled: true,
        client_id: 'id',
        client_secret: 'secret',
        redirect_address: 'https://flipt.example.com',
      },
      kubernetes,
      jwt: { enabled: true, jwks_url: 'https://idp.example.com/.well-known/jwks.json' },
    },
  };
}

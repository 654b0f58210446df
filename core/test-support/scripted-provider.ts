import { createPublicKey, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from 'jose';

/** What the provider would put in an honest ID token for one login. */
export interface IdTokenDraft {
  readonly claims: JWTPayload & { iat: number; exp: number; nonce?: string; email?: string };
  /** Signs `claims` with the provider's published key (RS256, its `kid`). */
  sign(claims: JWTPayload): Promise<string>;
  /** The provider's public key as PEM, for key-confusion attacks. */
  readonly publicKeyPem: string;
}

/**
 * An OpenID provider that issues whatever ID token a test scripts. It logs everyone in at once (no pages) and
 * otherwise speaks the protocol correctly (discovery, JWKS, single-use codes, client authentication), so that a
 * refused login can only be the relying party refusing the token. Each test says what the next token looks like.
 */
export interface ScriptedProvider {
  readonly issuer: string;
  /** Makes the ID token of each following login; an honest one by default. */
  issue(script: (draft: IdTokenDraft) => string | Promise<string>): void;
  /** How many ID tokens it has handed out from its token endpoint. */
  readonly issued: number;
  close(): Promise<void>;
}

/** HTTP Basic client authentication as RFC 6749 §2.3.1 has it: both parts form-urlencoded, then base64. */
function clientAuthenticated(
  header: string | undefined,
  client: { client_id: string; client_secret: string },
): boolean {
  if (header?.startsWith('Basic ') !== true) return false;
  const decoded = Buffer.from(header.slice(6), 'base64').toString();
  const colon = decoded.indexOf(':');
  const part = (text: string) => decodeURIComponent(text.replaceAll('+', ' '));
  return (
    colon > 0 &&
    part(decoded.slice(0, colon)) === client.client_id &&
    part(decoded.slice(colon + 1)) === client.client_secret
  );
}

export async function startScriptedProvider(client: {
  client_id: string;
  client_secret: string;
}): Promise<ScriptedProvider> {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid: 'scripted-1', alg: 'RS256', use: 'sig' };
  const publicKeyPem = createPublicKey({ key: jwk as never, format: 'jwk' })
    .export({ type: 'spki', format: 'pem' })
    .toString();
  let script: (draft: IdTokenDraft) => string | Promise<string> = (draft) => draft.sign(draft.claims);
  let issued = 0;
  const codes = new Map<string, { nonce: string | undefined; redirectUri: string }>();

  const server = createServer(async (request, response) => {
    const url = new URL(request.url ?? '/', issuer);
    const json = (status: number, body: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (url.pathname === '/.well-known/openid-configuration') {
      return json(200, {
        issuer,
        authorization_endpoint: `${issuer}/authorize`,
        token_endpoint: `${issuer}/token`,
        jwks_uri: `${issuer}/jwks`,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        // Advertised so that only the relying party's own checks stand between a forged token and a session.
        id_token_signing_alg_values_supported: ['RS256', 'HS256', 'none'],
      });
    }
    if (url.pathname === '/jwks') return json(200, { keys: [jwk] });
    if (url.pathname === '/authorize') {
      const code = randomBytes(16).toString('hex');
      const redirectUri = url.searchParams.get('redirect_uri') ?? '';
      codes.set(code, { nonce: url.searchParams.get('nonce') ?? undefined, redirectUri });
      const back = new URL(redirectUri);
      back.searchParams.set('code', code);
      back.searchParams.set('state', url.searchParams.get('state') ?? '');
      response.writeHead(302, { location: back.href }).end();
      return;
    }
    if (url.pathname === '/token' && request.method === 'POST') {
      let body = '';
      for await (const chunk of request) body += chunk;
      const form = new URLSearchParams(body);
      const grant = codes.get(form.get('code') ?? '');
      codes.delete(form.get('code') ?? '');
      if (!clientAuthenticated(request.headers.authorization, client)) {
        return json(401, { error: 'invalid_client' });
      }
      if (grant === undefined || grant.redirectUri !== form.get('redirect_uri')) {
        return json(400, { error: 'invalid_grant' });
      }
      const now = Math.floor(Date.now() / 1000);
      const claims = {
        iss: issuer,
        aud: client.client_id,
        sub: 'scripted-user',
        email: 'user@scripted.example',
        iat: now,
        exp: now + 600,
        ...(grant.nonce !== undefined && { nonce: grant.nonce }),
      };
      const sign = (payload: JWTPayload) =>
        new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid: jwk.kid as string }).sign(privateKey);
      const idToken = await script({ claims, sign, publicKeyPem });
      issued++;
      return json(200, {
        access_token: 'scripted-access',
        token_type: 'Bearer',
        expires_in: 600,
        id_token: idToken,
      });
    }
    json(404, { error: 'not_found' });
  });
  await new Promise<void>((resolve) => server.listen(0, 'localhost', resolve));
  const issuer = `http://localhost:${(server.address() as AddressInfo).port}`;
  return {
    issuer,
    issue(next) {
      script = next;
    },
    get issued() {
      return issued;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

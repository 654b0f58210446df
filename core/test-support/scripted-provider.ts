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
  /**
   * Makes the userinfo answer of each following login from the ID token's claims: a JSON object, or a string
   * sent as a signed answer (`application/jwt`). By default, the ID token's `sub` and email as JSON.
   */
  answerUserinfo(script: (draft: IdTokenDraft) => Record<string, unknown> | string | Promise<string>): void;
  /** Signs `claims` with the key it publishes now (a logout token, say). */
  sign(claims: JWTPayload): Promise<string>;
  /**
   * Replaces its signing key with a new one, published under the same `kid` by default, under `kid`, or under none
   * (`null`, and its tokens then carry none either).
   */
  rotate(kid?: string | null): Promise<void>;
  /** How many ID tokens it has handed out from its token endpoint. */
  readonly issued: number;
  /** How many times its JWKS was fetched. */
  readonly jwksFetches: number;
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

/** An RS256 key pair, its public half as a JWK (with `kid` unless it is `null`) and as PEM. */
async function signingKey(kid: string | null) {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk: JWK = {
    ...(await exportJWK(publicKey)),
    alg: 'RS256',
    use: 'sig',
    ...(kid !== null && { kid }),
  };
  const publicKeyPem = createPublicKey({ key: jwk as never, format: 'jwk' })
    .export({ type: 'spki', format: 'pem' })
    .toString();
  return { jwk, privateKey, publicKeyPem };
}

export async function startScriptedProvider(client: {
  client_id: string;
  client_secret: string;
}): Promise<ScriptedProvider> {
  let signing = await signingKey('scripted-1');
  let script: (draft: IdTokenDraft) => string | Promise<string> = (draft) => draft.sign(draft.claims);
  let userinfoScript: (draft: IdTokenDraft) => Record<string, unknown> | string | Promise<string> = (
    draft,
  ) => ({
    sub: draft.claims.sub,
    email: draft.claims.email,
  });
  let issued = 0;
  let jwksFetches = 0;
  const codes = new Map<string, { nonce: string | undefined; redirectUri: string }>();
  /** Access tokens handed out, with the draft of the login they belong to. */
  const accessTokens = new Map<string, IdTokenDraft>();
  const sign = (payload: JWTPayload) => {
    const { kid } = signing.jwk;
    return new SignJWT(payload)
      .setProtectedHeader({ alg: 'RS256', ...(kid !== undefined && { kid }) })
      .sign(signing.privateKey);
  };

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
        userinfo_endpoint: `${issuer}/userinfo`,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        // Advertised so that only the relying party's own checks stand between a forged token and a session.
        id_token_signing_alg_values_supported: ['RS256', 'HS256', 'none'],
      });
    }
    if (url.pathname === '/jwks') {
      jwksFetches++;
      return json(200, { keys: [signing.jwk] });
    }
    if (url.pathname === '/userinfo') {
      const draft = accessTokens.get((request.headers.authorization ?? '').replace(/^Bearer /, ''));
      if (draft === undefined) return json(401, { error: 'invalid_token' });
      const answer = await userinfoScript(draft);
      if (typeof answer !== 'string') return json(200, answer);
      response.writeHead(200, { 'content-type': 'application/jwt' }).end(answer);
      return;
    }
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
      const draft = { claims, sign, publicKeyPem: signing.publicKeyPem };
      const idToken = await script(draft);
      issued++;
      const accessToken = randomBytes(16).toString('hex');
      accessTokens.set(accessToken, draft);
      return json(200, {
        access_token: accessToken,
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
    answerUserinfo(next) {
      userinfoScript = next;
    },
    sign,
    async rotate(kid = signing.jwk.kid ?? null) {
      signing = await signingKey(kid);
    },
    get issued() {
      return issued;
    },
    get jwksFetches() {
      return jwksFetches;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

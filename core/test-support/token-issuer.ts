import { randomUUID } from 'node:crypto';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from 'jose';

type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

/** A signing key of the issuer: its private half, and the public JWK it publishes. */
export interface IssuerKey {
  /** Absent for a key published without a `kid` (tokens it signs carry none either). */
  readonly kid?: string;
  readonly alg: string;
  readonly privateKey: PrivateKey;
  readonly publicJwk: JWK;
}

export interface TokenIssuerOptions {
  /** Serve HTTPS with this certificate (a cluster's API server, say). */
  readonly tls?: { readonly certPem: string; readonly keyPem: string };
  /** The `issuer` its discovery names; its own URL by default. */
  readonly issuer?: string;
  /** When set, discovery and JWKS answer only requests with `Authorization: Bearer <this()>`. */
  readonly bearer?: () => string;
  /** Algorithm of the first key (RS256 by default). */
  readonly alg?: string;
}

/**
 * Something that issues JWTs and publishes their keys: OIDC discovery at `/.well-known/openid-configuration` and a
 * JWKS at `/openid/v1/jwks`, as a Kubernetes API server does, or any JWT issuer. It signs tokens for the tests, and
 * can rotate its key.
 */
export interface TokenIssuer {
  readonly url: string;
  readonly issuer: string;
  readonly jwksUrl: string;
  /** The key it signs with now. */
  readonly key: IssuerKey;
  /** `Authorization` headers seen, in order. */
  readonly authorizations: string[];
  /** How many times the JWKS was fetched. */
  readonly jwksFetches: number;
  /** Signs `claims` (iss, iat and exp default to sensible values) with the current key, or `key`. */
  sign(claims: JWTPayload, options?: { key?: IssuerKey; header?: Record<string, unknown> }): Promise<string>;
  /**
   * Replaces the published key with a new one: tokens signed before stop verifying. The new key gets a new `kid`,
   * or `options.kid` (the same `kid` again, say), or none with `kid: null`.
   */
  rotate(options?: { kid?: string | null }): Promise<IssuerKey>;
  /** Makes the JWKS answer this status (an outage) until called with `undefined`. */
  failJwks(status: number | undefined): void;
  close(): Promise<void>;
}

/** A new signing key, not published anywhere (for tokens signed by a stranger); `kid: null` for one without. */
export async function newIssuerKey(alg = 'RS256', kid: string | null = randomUUID()): Promise<IssuerKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk: JWK = { ...(await exportJWK(publicKey)), alg, use: 'sig', ...(kid !== null && { kid }) };
  return { alg, privateKey, publicJwk, ...(kid !== null && { kid }) };
}

export async function startTokenIssuer(options: TokenIssuerOptions = {}): Promise<TokenIssuer> {
  let key = await newIssuerKey(options.alg);
  let jwksFetches = 0;
  let jwksStatus: number | undefined;
  const authorizations: string[] = [];
  const handler = (request: IncomingMessage, response: ServerResponse) => {
    authorizations.push(request.headers.authorization ?? '');
    if (options.bearer !== undefined && request.headers.authorization !== `Bearer ${options.bearer()}`) {
      response.writeHead(401, { 'content-type': 'application/json' }).end('{"kind":"Status","code":401}');
      return;
    }
    const json = (body: unknown) =>
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (request.url === '/.well-known/openid-configuration') {
      return json({
        issuer,
        jwks_uri: `${url}/openid/v1/jwks`,
        response_types_supported: ['id_token'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: [key.alg],
      });
    }
    if (request.url === '/openid/v1/jwks') {
      jwksFetches++;
      if (jwksStatus !== undefined) return response.writeHead(jwksStatus).end();
      return json({ keys: [key.publicJwk] });
    }
    response.writeHead(404).end();
  };
  const server: Server =
    options.tls === undefined
      ? createHttpServer(handler)
      : createHttpsServer({ cert: options.tls.certPem, key: options.tls.keyPem }, handler);
  await new Promise<void>((resolve) => server.listen(0, 'localhost', resolve));
  const url = `${options.tls === undefined ? 'http' : 'https'}://localhost:${(server.address() as AddressInfo).port}`;
  const issuer = options.issuer ?? url;

  return {
    url,
    issuer,
    jwksUrl: `${url}/openid/v1/jwks`,
    get key() {
      return key;
    },
    authorizations,
    get jwksFetches() {
      return jwksFetches;
    },
    async sign(claims, signOptions = {}) {
      const signer = signOptions.key ?? key;
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ iss: issuer, iat: now, exp: now + 600, ...claims })
        .setProtectedHeader({
          alg: signer.alg,
          ...(signer.kid !== undefined && { kid: signer.kid }),
          typ: 'JWT',
          ...signOptions.header,
        })
        .sign(signer.privateKey);
    },
    async rotate(rotation = {}) {
      key = await newIssuerKey(key.alg, rotation.kid === undefined ? randomUUID() : rotation.kid);
      return key;
    },
    failJwks(status) {
      jwksStatus = status;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

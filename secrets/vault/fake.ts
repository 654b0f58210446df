/**
 * A local HashiCorp Vault for the vault store's tests: a real HTTP(S) server on 127.0.0.1 answering what node-vault
 * sends (KV v2 reads, token lookup-self and renew-self, approle and kubernetes logins), issuing tokens with TTLs and
 * enforcing them. `fake.test.ts` drives it through node-vault itself, so that it cannot drift from the SDK.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { RecordedRequest, SecretStoreFake } from '../../core/test-support/secret-store-fake.ts';

/** How a fake Vault is set up. Every credential has a random default. */
export interface VaultFakeOptions {
  /** Serve HTTPS with this certificate; `caFile` (the CA that issued it) becomes `env.VAULT_CACERT`. */
  readonly tls?: { readonly cert: string; readonly key: string; readonly caFile: string };
  /** The configured token (`config.token`). */
  readonly token?: string;
  /** The AppRole credentials `auth/approle/login` accepts. */
  readonly roleId?: string;
  readonly secretId?: string;
  /** The role and the service-account JWT `auth/kubernetes/login` accepts. */
  readonly kubernetesRole?: string;
  readonly kubernetesJwt?: string;
  /**
   * The TTL of every token: logins' and, when given, the configured token's too (without it, the configured token
   * never expires and is not renewable, as a root token; logins get Vault's default, 768h).
   */
  readonly ttlSeconds?: number;
  /** The longest a token lives, renewals included (Vault's max TTL). Default: unlimited. */
  readonly maxTtlSeconds?: number;
  /** Whether tokens with a TTL may be renewed. Default `true`. */
  readonly renewable?: boolean;
  /** The namespace every request must name in `X-Vault-Namespace` (its tokens live there). */
  readonly namespace?: string;
  /** The KV v2 mount. Default `secret`. */
  readonly mount?: string;
}

/** A running fake Vault: the common fake interface, and what the vault tests need beyond it. */
export interface VaultFake extends SecretStoreFake {
  /** `http(s)://127.0.0.1:<port>`. */
  readonly address: string;
  /** The configured token. */
  readonly token: string;
  readonly roleId: string;
  readonly secretId: string;
  readonly kubernetesRole: string;
  readonly kubernetesJwt: string;
  /** Every token issued or configured, revoked: the next request with one gets 403 (an expired token's answer). */
  revokeTokens(): void;
  /** How many logins (approle and kubernetes) succeeded. */
  readonly logins: number;
  /** How many renewals succeeded. */
  readonly renewals: number;
}

interface TokenState {
  /** When the token expires (epoch ms); `undefined`: never. */
  expiresAt: number | undefined;
  /** When renewals stop extending it (epoch ms). */
  readonly maxExpiresAt: number | undefined;
  readonly renewable: boolean;
  readonly creationTtl: number;
  readonly issuedAt: number;
  readonly policies: string[];
  readonly path: string;
}

const DEFAULT_LOGIN_TTL = 768 * 3600;
const random = (prefix: string) => `${prefix}${randomBytes(18).toString('base64url')}`;

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(text);
}

const permissionDenied = { errors: ['permission denied'] };

function flatHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/** Parses a Vault duration as renew-self takes it: seconds as a number, or `"<n>s"`/`"<n>m"`/`"<n>h"`. */
function seconds(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value !== 'string') return undefined;
  const match = /^(\d+)([smh]?)$/.exec(value);
  if (match === null) return undefined;
  return Number(match[1]) * ({ '': 1, s: 1, m: 60, h: 3600 } as const)[match[2] as '' | 's' | 'm' | 'h'];
}

/** Starts a fake Vault on 127.0.0.1 (an ephemeral port). */
export async function startVaultFake(options: VaultFakeOptions = {}): Promise<VaultFake> {
  const mount = options.mount ?? 'secret';
  const configuredToken = options.token ?? random('hvs.fake-root-');
  const roleId = options.roleId ?? randomUUID();
  const secretId = options.secretId ?? randomUUID();
  const kubernetesRole = options.kubernetesRole ?? 'portcullis';
  const kubernetesJwt = options.kubernetesJwt ?? random('eyJfake.');
  const renewable = options.renewable ?? true;

  const secrets = new Map<string, { data: Record<string, unknown>; version: number; created: string }>();
  const tokens = new Map<string, TokenState>();
  const requests: RecordedRequest[] = [];
  let down = false;
  let logins = 0;
  let renewals = 0;

  const newToken = (ttl: number | undefined, path: string, policies: string[]): TokenState => {
    const now = Date.now();
    return {
      expiresAt: ttl === undefined ? undefined : now + ttl * 1000,
      maxExpiresAt: options.maxTtlSeconds === undefined ? undefined : now + options.maxTtlSeconds * 1000,
      renewable: ttl !== undefined && renewable,
      creationTtl: ttl ?? 0,
      issuedAt: now,
      policies,
      path,
    };
  };
  tokens.set(configuredToken, newToken(options.ttlSeconds, 'auth/token/create', ['default', 'portcullis']));

  const ttlLeft = (state: TokenState) =>
    state.expiresAt === undefined ? 0 : Math.max(0, Math.round((state.expiresAt - Date.now()) / 1000));

  /** The state of the request's token, or `undefined` (unknown, revoked, expired, other namespace). */
  const tokenOf = (headers: Record<string, string>): [string, TokenState] | undefined => {
    if (options.namespace !== undefined && headers['x-vault-namespace'] !== options.namespace)
      return undefined;
    const token = headers['x-vault-token'];
    if (token === undefined) return undefined;
    const state = tokens.get(token);
    if (state === undefined) return undefined;
    if (state.expiresAt !== undefined && state.expiresAt <= Date.now()) {
      tokens.delete(token);
      return undefined;
    }
    return [token, state];
  };

  const authAnswer = (
    token: string,
    state: TokenState,
    metadata: Record<string, string>,
    warnings?: string[],
  ) => ({
    request_id: randomUUID(),
    lease_id: '',
    renewable: false,
    lease_duration: 0,
    data: null,
    wrap_info: null,
    warnings: warnings ?? null,
    auth: {
      client_token: token,
      accessor: random(''),
      policies: state.policies,
      token_policies: state.policies,
      metadata,
      lease_duration: ttlLeft(state),
      renewable: state.renewable,
      entity_id: randomUUID(),
      token_type: 'service',
      orphan: true,
      mfa_requirement: null,
      num_uses: 0,
    },
  });

  const login = (res: ServerResponse, path: string, metadata: Record<string, string>) => {
    const token = random('hvs.fake-');
    const state = newToken(options.ttlSeconds ?? DEFAULT_LOGIN_TTL, path, ['default', 'portcullis']);
    tokens.set(token, state);
    logins++;
    send(res, 200, authAnswer(token, state, metadata));
  };

  const handle = (req: IncomingMessage, res: ServerResponse, body: string) => {
    const headers = flatHeaders(req);
    const method = req.method ?? 'GET';
    const rawPath = req.url ?? '/';
    requests.push({ method, path: rawPath, headers, body });
    if (down) return send(res, 503, { errors: ['Vault is sealed'] });
    const path = decodeURIComponent(rawPath.split('?')[0] as string);
    let json: Record<string, unknown> = {};
    if (body !== '') {
      try {
        const parsed: unknown = JSON.parse(body);
        if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
          json = parsed as Record<string, unknown>;
        }
      } catch {
        return send(res, 400, { errors: ['failed to parse JSON input'] });
      }
    }
    const sameNamespace =
      options.namespace === undefined || headers['x-vault-namespace'] === options.namespace;

    if (method === 'POST' && path === '/v1/auth/approle/login') {
      if (!sameNamespace) return send(res, 403, permissionDenied);
      if (json.role_id !== roleId || json.secret_id !== secretId) {
        return send(res, 400, { errors: ['invalid role or secret ID'] });
      }
      return login(res, 'auth/approle/login', { role_name: 'portcullis' });
    }
    if (method === 'POST' && path === '/v1/auth/kubernetes/login') {
      if (!sameNamespace) return send(res, 403, permissionDenied);
      if (json.role !== kubernetesRole)
        return send(res, 400, { errors: [`invalid role name "${String(json.role)}"`] });
      if (json.jwt !== kubernetesJwt) return send(res, 403, permissionDenied);
      return login(res, 'auth/kubernetes/login', {
        role: kubernetesRole,
        service_account_name: 'portcullis',
      });
    }

    const held = tokenOf(headers);
    if (held === undefined) return send(res, 403, permissionDenied);
    const [token, state] = held;

    if (method === 'GET' && path === '/v1/auth/token/lookup-self') {
      return send(res, 200, {
        request_id: randomUUID(),
        lease_id: '',
        renewable: false,
        lease_duration: 0,
        data: {
          accessor: random(''),
          creation_time: Math.floor(state.issuedAt / 1000),
          creation_ttl: state.creationTtl,
          display_name: 'token',
          entity_id: '',
          expire_time: state.expiresAt === undefined ? null : new Date(state.expiresAt).toISOString(),
          explicit_max_ttl: 0,
          id: token,
          issue_time: new Date(state.issuedAt).toISOString(),
          meta: null,
          num_uses: 0,
          orphan: true,
          path: state.path,
          policies: state.policies,
          renewable: state.renewable,
          ttl: ttlLeft(state),
          type: 'service',
        },
        wrap_info: null,
        warnings: null,
        auth: null,
      });
    }
    if (method === 'POST' && path === '/v1/auth/token/renew-self') {
      if (!state.renewable) return send(res, 400, { errors: ['lease is not renewable'] });
      const asked = seconds(json.increment) ?? state.creationTtl;
      let ttl = asked;
      let warnings: string[] | undefined;
      if (state.maxExpiresAt !== undefined) {
        const room = Math.floor((state.maxExpiresAt - Date.now()) / 1000);
        if (room < ttl) {
          ttl = Math.max(room, 0);
          warnings = [
            `TTL of "${asked}s" exceeded the effective max_ttl of "${ttl}s"; TTL value is capped accordingly`,
          ];
        }
      }
      if (ttl <= 0) {
        tokens.delete(token);
        return send(res, 403, permissionDenied);
      }
      state.expiresAt = Date.now() + ttl * 1000;
      renewals++;
      return send(res, 200, authAnswer(token, state, {}, warnings));
    }
    const kvPrefix = `/v1/${mount}/data/`;
    if (method === 'GET' && path.startsWith(kvPrefix)) {
      const secret = secrets.get(path.slice(kvPrefix.length));
      if (secret === undefined) return send(res, 404, { errors: [] });
      return send(res, 200, {
        request_id: randomUUID(),
        lease_id: '',
        renewable: false,
        lease_duration: 0,
        data: {
          data: secret.data,
          metadata: {
            created_time: secret.created,
            custom_metadata: null,
            deletion_time: '',
            destroyed: false,
            version: secret.version,
          },
        },
        wrap_info: null,
        warnings: null,
        auth: null,
        mount_type: 'kv',
      });
    }
    return send(res, 404, { errors: [`no handler for route "${path.slice('/v1/'.length)}"`] });
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => handle(req, res, Buffer.concat(chunks).toString('utf8')));
  };
  const server: Server =
    options.tls === undefined
      ? createHttpServer(onRequest)
      : createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, onRequest);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const address = `${options.tls === undefined ? 'http' : 'https'}://127.0.0.1:${port}`;

  return {
    address,
    token: configuredToken,
    roleId,
    secretId,
    kubernetesRole,
    kubernetesJwt,
    config: {
      address,
      auth_method: 'token',
      token: configuredToken,
      mount,
      ...(options.namespace === undefined ? {} : { namespace: options.namespace }),
    },
    env: options.tls === undefined ? {} : { VAULT_CACERT: options.tls.caFile },
    set(path, value) {
      let data: Record<string, unknown> = { [path]: value };
      try {
        const parsed: unknown = JSON.parse(value);
        if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
          data = parsed as Record<string, unknown>;
        }
      } catch {
        // Not JSON: stored under the path's own name.
      }
      const version = (secrets.get(path)?.version ?? 0) + 1;
      secrets.set(path, { data, version, created: new Date().toISOString() });
    },
    remove(path) {
      secrets.delete(path);
    },
    setDown(value) {
      down = value;
    },
    revokeTokens() {
      tokens.clear();
    },
    get requests() {
      return requests;
    },
    get logins() {
      return logins;
    },
    get renewals() {
      return renewals;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { Duplex } from 'node:stream';
import type NodeVault from 'node-vault';
import type { Logger, SecretContext, SecretSource } from '../../core/plugins/kit/index.ts';
import {
  ErrorCodes,
  errorCode,
  errorMessage,
  FileTooLargeError,
  MAX_NAMED_FILE_BYTES,
  NETWORK_ERROR_CODES,
  PluginError,
  parseUrl,
  readTextFileLimited,
  secretNotFound,
  sharedCalls,
  statFailure,
} from '../../core/plugins/kit/index.ts';
import type { VaultProviderConfig } from './config.ts';
import { readVaultTls, type VaultTls } from './environment.ts';

/** Renew a token when this share of its TTL has passed. */
const RENEW_AT = 2 / 3;
/** Longest text of a Vault error message repeated in ours. */
const VAULT_MESSAGE_LIMIT = 200;

type Client = NodeVault.client;
/** What node-vault passes on to axios for one call: the agent the call's sockets come from, our own headers. */
type CallOptions = { httpAgent?: HttpAgent; httpsAgent?: HttpsAgent; headers?: Record<string, string> };

/** An answer of Vault's other than 200/204, as node-vault rejects with it. */
interface VaultAnswerError {
  readonly response: { readonly statusCode: number; readonly body: unknown };
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function answerOf(error: unknown): VaultAnswerError['response'] | undefined {
  if (!isObject(error) || !isObject(error.response)) return undefined;
  const { statusCode, body } = error.response;
  return typeof statusCode === 'number' ? { statusCode, body } : undefined;
}

/** The socket errors whose code says the server's certificate was not accepted. */
const TLS_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

const NETWORK_REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'the connection was reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed (EAI_AGAIN)',
  ETIMEDOUT: 'the connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EPROTO: 'TLS handshake failed (EPROTO: is the address http:// or https://?)',
};

/**
 * An agent whose sockets are destroyed when `signal` aborts: node-vault hands axios neither a signal nor a
 * cancel token, but it does hand it the agent a call gives, so a call is cancelled through its agent.
 */
function abortableAgent(https: boolean, tls: VaultTls, signal: AbortSignal): HttpAgent | HttpsAgent {
  const bind = (socket: Duplex | null | undefined) => {
    if (socket == null) return socket;
    const destroy = () => socket.destroy(new Error('the request was cancelled'));
    if (signal.aborted) destroy();
    else {
      signal.addEventListener('abort', destroy, { once: true });
      socket.once('close', () => signal.removeEventListener('abort', destroy));
    }
    return socket;
  };
  if (!https) {
    return new (class extends HttpAgent {
      override createConnection(...args: Parameters<HttpAgent['createConnection']>) {
        return bind(super.createConnection(...args));
      }
    })();
  }
  const options = { ...(tls.ca === undefined ? {} : { ca: tls.ca }), rejectUnauthorized: !tls.skipVerify };
  return new (class extends HttpsAgent {
    override createConnection(...args: Parameters<HttpsAgent['createConnection']>) {
      return bind(super.createConnection(...args));
    }
  })(options);
}

/** Settles as `work` does, or rejects as soon as `signal` aborts (`work` is then left to fail on its own). */
function raceAbort<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  work.catch(() => undefined);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** The address as messages show it: without a user or password, without a trailing slash. */
function shownAddress(url: URL): string {
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

/** A path as Vault's API takes it: each segment percent-encoded; `.`, `..` and empty segments refused. */
function apiPath(path: string, what: string): string {
  const segments = path.replace(/^\/+|\/+$/g, '').split('/');
  if (segments.some((segment) => segment === '' || segment === '.' || segment === '..')) {
    throw new PluginError(
      ErrorCodes.SECRET_REFERENCE_INVALID,
      `${what} "${path}" has an empty, "." or ".." segment, which Vault's API does not take`,
    );
  }
  return segments.map(encodeURIComponent).join('/');
}

type AuthMethod = VaultProviderConfig['auth_method'];

/**
 * Opens the Vault KV v2 store `config` describes: logs in (approle, kubernetes) or takes the token, renews the
 * token before it expires, logs in again when it cannot be renewed.
 */
export async function openVaultSource(
  ctx: SecretContext,
  config: VaultProviderConfig,
): Promise<SecretSource> {
  const address = config.address ?? '';
  const url = parseUrl(address);
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new PluginError(
      ErrorCodes.SECRET_PROVIDER,
      `vault: address ${JSON.stringify(address)} is not an http:// or https:// URL`,
    );
  }
  const where = `vault at ${shownAddress(url)}`;
  const method: AuthMethod = config.auth_method;
  const env = ctx.env;
  const log: Logger = ctx.log;
  const mount = apiPath(config.mount, 'mount');
  const namespace = config.namespace || env.VAULT_NAMESPACE || undefined;
  const tls = await readVaultTls(env, where);
  const isHttps = url.protocol === 'https:';

  // Everything credential-like this store handles: scrubbed from any text of Vault's that a message repeats.
  const sensitive = new Set<string>();
  const scrub = (text: string) => {
    let out = text;
    for (const value of sensitive) if (value.length > 0) out = out.split(value).join('[redacted]');
    return out.length > VAULT_MESSAGE_LIMIT ? `${out.slice(0, VAULT_MESSAGE_LIMIT)}…` : out;
  };

  // Credentials, checked before anything is sent.
  let token: string | undefined;
  let approle: { role_id: string; secret_id: string } | undefined;
  if (method === 'token') {
    token = config.token || env.VAULT_TOKEN || undefined;
    if (token === undefined)
      throw new PluginError(ErrorCodes.SECRET_PROVIDER, `${where}: no vault token provided`);
    sensitive.add(token);
  } else if (method === 'approle') {
    const roleId = env.VAULT_ROLE_ID ?? '';
    const secretId = env.VAULT_SECRET_ID ?? '';
    if (roleId === '' || secretId === '') {
      throw new PluginError(
        ErrorCodes.SECRET_PROVIDER,
        `${where}: VAULT_ROLE_ID and VAULT_SECRET_ID must be set for approle auth`,
      );
    }
    approle = { role_id: roleId, secret_id: secretId };
    sensitive.add(secretId);
  }

  const { default: createClient } = await import('node-vault');
  const options: NodeVault.VaultOptions & { rpDefaults: { strictSSL: boolean } } = {
    endpoint: address.replace(/\/+$/, ''),
    apiVersion: 'v1',
    ...(namespace === undefined ? {} : { namespace }),
    // node-vault would otherwise read VAULT_SKIP_VERIFY from process.env (any text, even "false", turning checks
    // off); our agents carry the TLS settings read from ctx.env. Its debug output would show login bodies.
    rpDefaults: { strictSSL: true },
    debug: () => undefined,
  };
  const client: Client = createClient(options);
  // node-vault fills these from process.env when not given; the runtime's environment is ctx.env.
  (client as unknown as { pathPrefix: string }).pathPrefix = '';
  (client as unknown as { namespace: string | undefined }).namespace = namespace;
  // The token travels in each call's own header, never as node-vault's default (which logins would send too).
  client.token = undefined as unknown as string;

  const closing = new AbortController();
  let renewTimer: NodeJS.Timeout | undefined;
  let loginInFlight: Promise<void> | undefined;
  let warnedStatic = false;

  const cancelled = (signal: AbortSignal): PluginError => {
    const reason = signal.reason as { name?: string } | undefined;
    const why = closing.signal.aborted
      ? 'the store was closed'
      : reason?.name === 'TimeoutError'
        ? 'it timed out'
        : 'it was aborted';
    return new PluginError(ErrorCodes.SECRET_PROVIDER, `${where}: the request was cancelled (${why})`);
  };

  /** Runs one node-vault call whose sockets die with `signal` (or with the store). */
  async function call<T>(
    signal: AbortSignal | undefined,
    run: (options: CallOptions) => Promise<T>,
  ): Promise<T> {
    const combined = signal === undefined ? closing.signal : AbortSignal.any([signal, closing.signal]);
    if (combined.aborted) throw cancelled(combined);
    const agent = abortableAgent(isHttps, tls, combined);
    try {
      return await raceAbort(
        run(isHttps ? { httpsAgent: agent as HttpsAgent } : { httpAgent: agent }),
        combined,
      );
    } catch (error) {
      if (combined.aborted) throw cancelled(combined);
      throw error;
    } finally {
      agent.destroy();
    }
  }

  /** Vault's first error message, scrubbed and cut. */
  const vaultSays = (body: unknown): string => {
    const errors = isObject(body) && Array.isArray(body.errors) ? body.errors : [];
    const first = errors.find((e): e is string => typeof e === 'string' && e !== '');
    return first === undefined ? '' : `: ${scrub(first)}`;
  };

  /** A provider error for whatever `doing` failed with: our own errors pass, the rest are described. */
  const failure = (error: unknown, doing: string): Error => {
    if (error instanceof PluginError || errorCode(error) === ErrorCodes.SECRET_NOT_FOUND)
      return error as Error;
    const answer = answerOf(error);
    if (answer !== undefined) {
      const { statusCode, body } = answer;
      const said = vaultSays(body);
      let what: string;
      if (statusCode === 403)
        what = `permission denied (403${said}): the token was refused or lacks a policy for this`;
      else if (statusCode === 503) what = `Vault is sealed or unavailable (503${said})`;
      else if (statusCode >= 500) what = `Vault failed (${statusCode}${said})`;
      else what = `unexpected answer ${statusCode}${said}`;
      // Unavailable, not refused: start-up waits for a Vault that is sealed or still starting.
      const code = statusCode >= 500 ? ErrorCodes.UNAVAILABLE : ErrorCodes.SECRET_PROVIDER;
      return new PluginError(code, `${where}: ${doing}: ${what}`);
    }
    const code = errorCode(error);
    const message = scrub(errorMessage(error));
    if (code !== undefined && TLS_CODES.has(code)) {
      return new PluginError(
        ErrorCodes.SECRET_PROVIDER,
        `${where}: ${doing}: TLS: the server's certificate was not accepted (${code}: ${message}); ` +
          'set VAULT_CACERT or VAULT_CAPATH to its CA (or VAULT_SKIP_VERIFY=true to skip the check)',
      );
    }
    if (code !== undefined && (NETWORK_REASONS[code] !== undefined || NETWORK_ERROR_CODES.has(code))) {
      return new PluginError(ErrorCodes.UNAVAILABLE, `${where}: ${doing}: ${NETWORK_REASONS[code] ?? code}`);
    }
    return new PluginError(
      ErrorCodes.SECRET_PROVIDER,
      `${where}: ${doing}: ${code === undefined ? message : `${code}: ${message}`}`,
    );
  };

  const headers = (): Record<string, string> => (token === undefined ? {} : { 'X-Vault-Token': token });

  // ---- Tokens: login, renewal, re-login ----

  const clearRenewal = () => {
    if (renewTimer !== undefined) clearTimeout(renewTimer);
    renewTimer = undefined;
  };

  /** Renews the token in `delayMs`, asking for `increment` seconds; it expires at `expiresAt` (epoch ms). */
  const armRenewal = (delayMs: number, expiresAt: number, increment: number) => {
    clearRenewal();
    if (closing.signal.aborted) return;
    renewTimer = setTimeout(() => void renew(expiresAt, increment), Math.max(delayMs, 1));
    renewTimer.unref();
  };
  /** Renews a token that lives `ttl` more seconds at two thirds of that, asking for `increment` seconds. */
  const scheduleRenewal = (ttl: number, increment: number) => {
    if (ttl > 0) armRenewal(ttl * RENEW_AT * 1000, Date.now() + ttl * 1000, increment);
    else clearRenewal();
  };

  const staticTokenWarning = (why: string) => {
    if (warnedStatic) return;
    warnedStatic = true;
    log.warn(
      { auth_method: method },
      `${where}: the configured token cannot be renewed (${why}); secrets will not be read once it expires`,
    );
  };

  /** The token could not be renewed: log in again, or (a configured token) warn once. */
  const renewalRefused = async (why: string) => {
    if (method === 'token') return staticTokenWarning(why);
    log.info({ auth_method: method }, `${where}: the token cannot be renewed (${why}); logging in again`);
    try {
      await relogin(undefined);
    } catch (error) {
      log.warn(
        { auth_method: method },
        `logging in again failed: ${failure(error, `${method} login`).message}`,
      );
    }
  };

  async function renew(expiresAt: number, increment: number): Promise<void> {
    renewTimer = undefined;
    if (closing.signal.aborted) return;
    let answer: unknown;
    try {
      answer = await call(undefined, (options) =>
        client.tokenRenewSelf({ increment, requestOptions: { ...options, headers: headers() } }),
      );
      client.token = undefined as unknown as string;
    } catch (error) {
      client.token = undefined as unknown as string;
      if (closing.signal.aborted) return;
      const status = answerOf(error)?.statusCode;
      if (status === 403 || status === 400) {
        return renewalRefused(`Vault answered ${status}${vaultSays(answerOf(error)?.body)}`);
      }
      // Vault unreachable for now: try again while the token still lives, after a third of what is left.
      const left = expiresAt - Date.now();
      log.warn(
        { auth_method: method },
        `renewing the token failed: ${failure(error, 'renewing the token').message}`,
      );
      if (left > 1000) armRenewal(left / 3, expiresAt, increment);
      return;
    }
    const auth = isObject(answer) && isObject(answer.auth) ? answer.auth : undefined;
    const ttl = typeof auth?.lease_duration === 'number' ? auth.lease_duration : 0;
    if (auth === undefined || auth.renewable === false || ttl <= 0) {
      return renewalRefused('Vault says it is not renewable');
    }
    if (ttl < increment) {
      // The token's max TTL is near: Vault renewed it for less than asked, and it will soon expire for good.
      return renewalRefused(`it reaches its maximum TTL in ${ttl}s`);
    }
    log.info({ auth_method: method, ttl_seconds: ttl }, 'vault token renewed');
    scheduleRenewal(ttl, increment);
  }

  /** Reads the credentials and logs in (approle, kubernetes), then schedules the new token's renewal. */
  async function login(signal: AbortSignal | undefined): Promise<void> {
    let answer: unknown;
    try {
      if (method === 'approle') {
        const body = approle as NonNullable<typeof approle>;
        answer = await call(signal, (options) =>
          client.approleLogin({ ...body, mount_point: 'approle', requestOptions: options }),
        );
      } else {
        const file = config.service_account_token_path;
        let jwt: string;
        try {
          jwt = (await readTextFileLimited(file, MAX_NAMED_FILE_BYTES)).trim();
        } catch (error) {
          const why = error instanceof FileTooLargeError ? error.message : statFailure(file, error);
          throw new PluginError(
            ErrorCodes.SECRET_PROVIDER,
            `${where}: reading kubernetes service account token: ${why}`,
          );
        }
        sensitive.add(jwt);
        const role = config.role ?? '';
        answer = await call(signal, (options) =>
          client.kubernetesLogin({ role, jwt, mount_point: 'kubernetes', requestOptions: options }),
        );
      }
    } catch (error) {
      const status = answerOf(error)?.statusCode;
      if (status === 400 || status === 403) {
        throw new PluginError(
          ErrorCodes.SECRET_PROVIDER,
          `${where}: ${method} login: the credentials were refused (${status}${vaultSays(answerOf(error)?.body)})`,
        );
      }
      throw failure(error, `${method} login`);
    } finally {
      client.token = undefined as unknown as string;
    }
    const auth = isObject(answer) && isObject(answer.auth) ? answer.auth : undefined;
    if (typeof auth?.client_token !== 'string' || auth.client_token === '') {
      throw new PluginError(
        ErrorCodes.SECRET_PROVIDER,
        `${where}: ${method} login: the answer holds no auth.client_token`,
      );
    }
    token = auth.client_token;
    sensitive.add(token);
    const ttl = typeof auth.lease_duration === 'number' ? auth.lease_duration : 0;
    if (auth.renewable === true && ttl > 0) scheduleRenewal(ttl, ttl);
    else clearRenewal();
  }

  /** One login at a time; a caller waits for the running one (as long as its signal lets it). */
  function relogin(signal: AbortSignal | undefined): Promise<void> {
    loginInFlight ??= login(undefined).finally(() => {
      loginInFlight = undefined;
    });
    return signal === undefined ? loginInFlight : raceAbort(loginInFlight, signal);
  }

  /** A configured token: its TTL from lookup-self, to renew it in time. */
  async function watchStaticToken(): Promise<void> {
    let answer: unknown;
    try {
      answer = await call(undefined, (options) =>
        client.tokenLookupSelf({ requestOptions: { ...options, headers: headers() } }),
      );
    } catch (error) {
      const status = answerOf(error)?.statusCode;
      if (status === 403) {
        // A token without the default policy may not look itself up; reads will tell if it is refused.
        log.warn(
          { auth_method: method },
          `${where}: looking up the token: permission denied (403); it will not be renewed`,
        );
        return;
      }
      throw failure(error, 'looking up the token');
    }
    const data = isObject(answer) && isObject(answer.data) ? answer.data : {};
    const ttl = typeof data.ttl === 'number' ? data.ttl : 0;
    const creationTtl =
      typeof data.creation_ttl === 'number' && data.creation_ttl > 0 ? data.creation_ttl : ttl;
    if (ttl > 0 && data.renewable === true) scheduleRenewal(ttl, creationTtl);
    else if (ttl > 0) staticTokenWarning(`not renewable; it expires in ${ttl}s`);
  }

  if (method === 'token') await watchStaticToken();
  else await login(undefined);

  // ---- Reads ----

  async function readData(path: string, signal: AbortSignal | undefined): Promise<Record<string, unknown>> {
    const target = `${mount}/data/${apiPath(path, 'secret path')}`;
    const doing = `reading "${config.mount}/data/${path}"`;
    const attempt = (): Promise<unknown> =>
      call(signal, (options) => client.read(target, { ...options, headers: headers() }));
    let answer: unknown;
    try {
      const used = token;
      try {
        answer = await attempt();
      } catch (error) {
        // An expired token: log in again (once; another get may have done it already) and try once more.
        if (method === 'token' || answerOf(error)?.statusCode !== 403) throw error;
        if (token === used) {
          log.info({ auth_method: method }, `${where}: the token was refused (403); logging in again`);
          await relogin(signal);
        }
        answer = await attempt();
      }
    } catch (error) {
      if (answerOf(error)?.statusCode === 404) throw secretNotFound(`secret not found at path "${path}"`);
      throw failure(error, doing);
    }
    if (!isObject(answer) || !isObject(answer.data)) {
      throw new PluginError(
        ErrorCodes.SECRET_PROVIDER,
        `${where}: ${doing}: unexpected answer (no data object)`,
      );
    }
    const data = answer.data.data;
    // A deleted version answers data: null.
    if (data === null) throw secretNotFound(`secret not found at path "${path}"`);
    if (!isObject(data)) {
      throw new PluginError(
        ErrorCodes.SECRET_PROVIDER,
        `${where}: ${doing}: unexpected answer (no data.data object: is "${config.mount}" a KV version 2 mount?)`,
      );
    }
    return data;
  }

  const shared = sharedCalls<Record<string, unknown>>();
  return {
    async get(path, key, options) {
      // Keys of one secret asked for together are read once, from one version.
      const data = await shared(path, () => readData(path, options?.signal));
      // Flipt: `${secret:vault:<name>}` reads the key named like the path.
      const name = key ?? path;
      const value = Object.hasOwn(data, name) ? data[name] : undefined;
      if (typeof value === 'string') return value;
      if (typeof value === 'number' || typeof value === 'boolean') return String(value);
      throw secretNotFound(`key "${name}" not found in secret at path "${path}"`);
    },
    close() {
      closing.abort();
      clearRenewal();
    },
  };
}

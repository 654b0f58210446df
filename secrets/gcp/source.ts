/**
 * The `gcp` store: Google Cloud Secret Manager through `@google-cloud/secret-manager` (gRPC, google-gax).
 *
 * The SDK is loaded by `openGcpSource` only (a runtime without a `gcp` store never loads it); the types below are
 * erased at run time.
 */
import { createPrivateKey } from 'node:crypto';
import { createRequire } from 'node:module';
import type { protos, SecretManagerServiceClient } from '@google-cloud/secret-manager';
import type * as Gax from 'google-gax';
import type { Logger, SecretSource } from '../../core/plugins/kit/index.ts';
import {
  ErrorCodes,
  MAX_NAMED_FILE_BYTES,
  PluginError,
  quoteValue,
  readTextFileLimited,
  secretNotFound,
  selectSecretKey,
  sharedCalls,
  statFailure,
} from '../../core/plugins/kit/index.ts';
import type { GcpProviderConfig } from './config.ts';

/** The variable Flipt and Google's emulators use: `host:port` of an emulator, reached without TLS or credentials. */
export const EMULATOR_HOST_VARIABLE = 'SECRET_MANAGER_EMULATOR_HOST';
/** The global endpoint, and the regional one of a `location`, as Flipt (and Google's documentation) name them. */
export const GLOBAL_ENDPOINT = 'secretmanager.googleapis.com';
export const regionalEndpoint = (location: string) => `secretmanager.${location}.rep.googleapis.com`;
/** Deadline of one call when the caller gives no signal (the runtime's own per-call timeout is shorter). */
export const CALL_TIMEOUT_MS = 30_000;
/** The scope a service account key asks its tokens for, as the SDK's default. */
const CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';
/** A secret id, as the service accepts it. */
const SECRET_ID = /^[A-Za-z0-9_-]{1,255}$/;

type GaxModule = typeof Gax;
type ClientOptions = ConstructorParameters<typeof SecretManagerServiceClient>[0] & {};

/** The settings that decide how the client connects; {@link clientSettings} turns them into SDK options. */
export interface Connection {
  /** `host:port` the client dials, for messages. */
  readonly endpoint: string;
  /** Whether it dials an emulator (insecure, no credentials). */
  readonly emulator: boolean;
}

/** `projects/<project>[/locations/<location>]/secrets/<path>/versions/latest`. */
export function secretVersionName(
  config: Pick<GcpProviderConfig, 'project' | 'location'>,
  path: string,
): string {
  const parent = isSet(config.location)
    ? `projects/${config.project}/locations/${config.location}`
    : `projects/${config.project}`;
  return `${parent}/secrets/${path}/versions/latest`;
}

const isSet = (value: string | undefined): value is string => value !== undefined && value.trim() !== '';

/** How stores name themselves in messages: `gcp secret manager (project <p>)`. */
export const storeName = (config: Pick<GcpProviderConfig, 'project'>) =>
  `gcp secret manager (project ${config.project})`;

/**
 * Parses `SECRET_MANAGER_EMULATOR_HOST`: `host:port`, `[v6]:port`. Returns undefined when unset or empty.
 * @throws `ERR_SECRET_PROVIDER` for another form.
 */
export function emulatorAddress(
  env: Readonly<Record<string, string | undefined>>,
  store: string,
): { host: string; port: number } | undefined {
  const value = env[EMULATOR_HOST_VARIABLE]?.trim();
  if (value === undefined || value === '') return undefined;
  const match = /^(\[[0-9A-Fa-f:.]+\]|[^:[\]\s/]+):(\d{1,5})$/.exec(value);
  const port = Number(match?.[2]);
  if (match === null || !(port > 0 && port < 65536)) {
    throw new PluginError(
      ErrorCodes.SECRET_PROVIDER,
      `${store}: ${EMULATOR_HOST_VARIABLE} must be host:port, got ${quoteValue(value)}`,
    );
  }
  return { host: match[1] as string, port };
}

/**
 * The SDK options for `config` and `env`, without loading anything but what `gax` (the client's own google-gax)
 * gives: an emulator gets an insecure channel and an auth that never looks for credentials (as Flipt:
 * `WithoutAuthentication`; `location` and `credentials` are then not used); otherwise a `location` selects the
 * regional endpoint on port 443 and a `credentials` file the service account it holds; without one the library's
 * application default credentials apply.
 */
export async function clientSettings(
  config: GcpProviderConfig,
  env: Readonly<Record<string, string | undefined>>,
  gax: Pick<GaxModule, 'grpc' | 'GoogleAuth' | 'googleAuthLibrary'>,
): Promise<{ options: ClientOptions; connection: Connection }> {
  const store = storeName(config);
  const emulator = emulatorAddress(env, store);
  if (emulator !== undefined) {
    return {
      options: {
        apiEndpoint: emulator.host,
        port: emulator.port,
        sslCreds: gax.grpc.credentials.createInsecure(),
        auth: withoutCredentials(gax, store),
      },
      connection: { endpoint: `${emulator.host}:${emulator.port}`, emulator: true },
    };
  }
  const host = isSet(config.location) ? regionalEndpoint(config.location.trim()) : GLOBAL_ENDPOINT;
  const options: ClientOptions = { apiEndpoint: host, port: 443 };
  if (isSet(config.credentials)) {
    options.authClient = await serviceAccount(config.credentials, gax, store);
  }
  return { options, connection: { endpoint: `${host}:443`, emulator: false } };
}

/**
 * A GoogleAuth that answers the universe domain without looking for credentials and refuses to find any: the
 * client asks it only for the universe (the channel's credentials are the insecure ones given as `sslCreds`).
 */
function withoutCredentials(gax: Pick<GaxModule, 'GoogleAuth'>, store: string): Gax.GoogleAuth {
  class NoCredentials extends gax.GoogleAuth {
    override async getClient(): Promise<never> {
      throw new PluginError(
        ErrorCodes.SECRET_PROVIDER,
        `${store}: the emulator is reached without credentials`,
      );
    }
  }
  return new NoCredentials({ universeDomain: 'googleapis.com' });
}

/**
 * The service account key in `file` as an auth client (a `JWT`), as Flipt reads `credentials`
 * (`WithAuthCredentialsFile(ServiceAccount, ...)`): the file must hold a key of type `service_account`. Read here,
 * so that a missing or wrong file stops start-up naming the file (never its contents), and without the
 * library's deprecated `keyFilename`.
 */
async function serviceAccount(
  file: string,
  gax: Pick<GaxModule, 'googleAuthLibrary'>,
  store: string,
): Promise<Gax.googleAuthLibrary.JWT> {
  const refuse = (why: string) =>
    new PluginError(ErrorCodes.SECRET_PROVIDER, `${store}: credentials file "${file}" ${why}`);
  let text: string;
  try {
    text = await readTextFileLimited(file, MAX_NAMED_FILE_BYTES);
  } catch (error) {
    throw new PluginError(
      ErrorCodes.SECRET_PROVIDER,
      `${store}: reading credentials: ${statFailure(file, error)}`,
    );
  }
  let key: unknown;
  try {
    key = JSON.parse(text);
  } catch {
    // JSON.parse quotes the text it stopped at: not in a message.
    throw refuse('is not JSON (a service account key file is)');
  }
  const field = (name: string) =>
    typeof key === 'object' && key !== null && typeof (key as Record<string, unknown>)[name] === 'string'
      ? ((key as Record<string, unknown>)[name] as string)
      : undefined;
  const type = field('type');
  if (type !== 'service_account') {
    throw refuse(
      `is not a service account key (type ${type === undefined ? 'missing' : quoteValue(type)}, expected "service_account")`,
    );
  }
  const email = field('client_email');
  const privateKey = field('private_key');
  if (email === undefined || email === '') throw refuse('has no client_email');
  if (privateKey === undefined) throw refuse('has no private_key');
  try {
    createPrivateKey(privateKey);
  } catch {
    throw refuse('has a private_key that is not a PEM private key');
  }
  return new gax.googleAuthLibrary.JWT({
    email,
    key: privateKey,
    keyId: field('private_key_id'),
    scopes: [CLOUD_PLATFORM_SCOPE],
    universeDomain: field('universe_domain'),
  });
}

/** The google-gax the client loads (its `grpc`, `GoogleAuth`), whatever the layout of node_modules. */
function clientGax(): GaxModule {
  const here = createRequire(import.meta.url);
  return createRequire(here.resolve('@google-cloud/secret-manager'))('google-gax') as GaxModule;
}

/** gRPC status codes (google-gax's `Status`), by number, so that nothing is loaded for them. */
const Status = {
  CANCELLED: 1,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  UNAUTHENTICATED: 16,
  UNAVAILABLE: 14,
} as const;
const STATUS_NAMES = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
];

/** `7 PERMISSION_DENIED: <details>` of a gRPC error, cut; the message of anything else. */
function cause(error: unknown): string {
  const { code, details, message } = (typeof error === 'object' && error !== null ? error : {}) as {
    code?: unknown;
    details?: unknown;
    message?: unknown;
  };
  const text =
    typeof code === 'number'
      ? `${code} ${STATUS_NAMES[code] ?? 'UNKNOWN'}${typeof details === 'string' && details !== '' ? `: ${details}` : ''}`
      : typeof message === 'string'
        ? message
        : String(error);
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Opens the store: loads the SDK, builds its client (no call is made yet). `get(path)` reads the latest version of
 * secret `path`; `get(path, key)` a field of its JSON value.
 */
export async function openGcpSource(
  config: GcpProviderConfig,
  env: Readonly<Record<string, string | undefined>>,
  log: Logger,
): Promise<SecretSource> {
  const store = storeName(config);
  const { SecretManagerServiceClient } = await import('@google-cloud/secret-manager');
  const gax = clientGax();
  const { options, connection } = await clientSettings(config, env, gax);
  if (connection.emulator) {
    log.info({ host: connection.endpoint }, 'connecting to the gcp secret manager emulator');
  }
  // google-gax's telemetry log of each call, off whatever GOOGLE_SDK_NODE_LOGGING says.
  const client = new SecretManagerServiceClient({ ...options, enableTelemetryLogging: false });
  // With GOOGLE_SDK_NODE_LOGGING set, the client also writes every answer to standard error, the secret's bytes
  // included, past portcullis's scrubbing: no value may reach a log line, so this client's debug log is silenced.
  if ('_log' in client) Object.assign(client, { _log: gax.loggingUtils.placeholder });
  const where = `${store} at ${connection.endpoint}`;
  let closed = false;
  // Keys of one secret asked for together are read once, from one version.
  const shared = sharedCalls<string>();

  return {
    async get(path, key, callOptions) {
      const whole = await shared(path, async (): Promise<string> => {
        if (!SECRET_ID.test(path)) {
          throw new PluginError(
            ErrorCodes.SECRET_REFERENCE_INVALID,
            `secret name "${path}" is not a Secret Manager secret id (letters, digits, _ and -, at most 255)`,
          );
        }
        if (closed) throw new PluginError(ErrorCodes.SECRET_PROVIDER, `${store}: the store is closed`);
        const name = secretVersionName(config, path);
        const signal = callOptions?.signal;
        let response: protos.google.cloud.secretmanager.v1.IAccessSecretVersionResponse;
        try {
          signal?.throwIfAborted();
          [response] = await client.accessSecretVersion(
            { name },
            // One attempt: the runtime retries at start-up, and its per-call timeout aborts `signal`.
            { timeout: CALL_TIMEOUT_MS, retry: null, signal },
          );
        } catch (error) {
          throw failure(error, { store, where, name, path, signal });
        }
        const data = response.payload?.data;
        if (data === undefined || data === null) {
          throw new PluginError(
            ErrorCodes.SECRET_PROVIDER,
            `${store}: the answer for ${name} has no payload`,
          );
        }
        let value: string;
        try {
          value = typeof data === 'string' ? Buffer.from(data, 'base64').toString('utf8') : utf8.decode(data);
        } catch {
          throw new PluginError(
            ErrorCodes.SECRET_PROVIDER,
            `${store}: the value of ${name} is not UTF-8 text`,
          );
        }
        return value;
      });
      return selectSecretKey(whole, path, key);
    },
    async close() {
      if (closed) return;
      closed = true;
      await client.close();
    },
  };
}

/** The error `get` rejects with for what the call threw. */
function failure(
  error: unknown,
  at: { store: string; where: string; name: string; path: string; signal: AbortSignal | undefined },
): Error {
  const code = (error as { code?: unknown } | null)?.code;
  if (at.signal?.aborted) {
    const reason = at.signal.reason;
    const why = reason instanceof Error && reason.message !== '' ? reason.message : 'aborted';
    return new PluginError(
      ErrorCodes.SECRET_PROVIDER,
      `${at.where}: the request for ${at.name} was cancelled (${why})`,
    );
  }
  switch (code) {
    case Status.NOT_FOUND:
      return secretNotFound(`secret "${at.path}" not found in ${at.store}: ${at.name} (${cause(error)})`);
    case Status.PERMISSION_DENIED:
    case Status.UNAUTHENTICATED:
      return new PluginError(
        ErrorCodes.SECRET_PROVIDER,
        `${at.store}: the credentials were refused for ${at.name} (${cause(error)})`,
      );
    case Status.UNAVAILABLE:
      return new PluginError(ErrorCodes.SECRET_PROVIDER, `${at.where}: unreachable (${cause(error)})`);
    case Status.DEADLINE_EXCEEDED:
      return new PluginError(
        ErrorCodes.SECRET_PROVIDER,
        `${at.where}: no answer for ${at.name} in time (${cause(error)})`,
      );
    case Status.CANCELLED:
      return new PluginError(
        ErrorCodes.SECRET_PROVIDER,
        `${at.where}: the call was cancelled (${cause(error)})`,
      );
    default:
      return new PluginError(
        ErrorCodes.SECRET_PROVIDER,
        `${at.where}: unexpected answer for ${at.name} (${cause(error)})`,
      );
  }
}

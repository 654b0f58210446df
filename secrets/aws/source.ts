import type { SecretsManagerClient, SecretsManagerClientConfig } from '@aws-sdk/client-secrets-manager';
import type { SecretContext, SecretSource } from '../../core/plugins/kit/index.ts';
import {
  ErrorCodes,
  NETWORK_ERROR_CODES,
  PluginError,
  quoteValue,
  secretNotFound,
  selectSecretKey,
  sharedCalls,
} from '../../core/plugins/kit/index.ts';
import type { AwsProviderConfig } from './config.ts';

/**
 * Attempts per call, the first included. The SDK's default (3, with backoff) can outlast the core's per-call
 * timeout against a store that is down; the core retries at start-up itself.
 */
export const MAX_ATTEMPTS = 2;
/** Socket limits (ms), in case no signal comes with a call: connecting, and waiting for an answer. */
export const CONNECTION_TIMEOUT_MS = 5_000;
export const REQUEST_TIMEOUT_MS = 15_000;
/** The service's own messages are quoted in errors up to this length. */
const MAX_QUOTED = 300;

/** AWS error names that mean the credentials (or their signature) were refused. */
const REFUSED = new Set([
  'AccessDeniedException',
  'AccessDenied',
  'UnrecognizedClientException',
  'InvalidClientTokenId',
  'InvalidSignatureException',
  'SignatureDoesNotMatch',
  'IncompleteSignatureException',
  'IncompleteSignature',
  'MissingAuthenticationTokenException',
  'MissingAuthenticationToken',
  'ExpiredTokenException',
  'ExpiredToken',
  'RequestExpired',
  'NotAuthorized',
]);

/** A region name as AWS writes them: `eu-west-1`, `us-gov-west-1`, `cn-north-1`. */
const REGION = /^[a-z]{2}(-[a-z0-9]+)+-\d+$/;

const nonBlank = (value: string | undefined) =>
  value === undefined || value.trim() === '' ? undefined : value;

interface AwsLikeError {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  $metadata?: { httpStatusCode?: number };
  $fault?: unknown;
}

/**
 * Opens AWS Secrets Manager as a secret store. The SDK is loaded here, not when the plugin module is imported.
 *
 * - Region: `AWS_REGION`, else `AWS_DEFAULT_REGION` (Flipt's Go SDK reads it; the JS SDK does not), from `ctx.env`;
 *   else the SDK's own resolution (`AWS_PROFILE`'s, or the default profile's, `region` in the shared config file).
 * - Credentials: `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` (/ `AWS_SESSION_TOKEN`) from `ctx.env` when both
 *   are there and `AWS_PROFILE` is not (the first link of the SDK's chain, read where the runtime's environment
 *   is); otherwise the SDK's default chain (its environment, shared files, SSO, web identity, ECS, IMDS).
 * - `endpoint_url` → the SDK's `endpoint`.
 */
export async function openAwsSource(ctx: SecretContext, config: AwsProviderConfig): Promise<SecretSource> {
  const env = ctx.env;
  const profile = nonBlank(env.AWS_PROFILE);
  const accessKeyId = nonBlank(env.AWS_ACCESS_KEY_ID);
  const secretAccessKey = nonBlank(env.AWS_SECRET_ACCESS_KEY);
  const sessionToken = nonBlank(env.AWS_SESSION_TOKEN);
  const credentials =
    profile === undefined && accessKeyId !== undefined && secretAccessKey !== undefined
      ? { accessKeyId, secretAccessKey, ...(sessionToken === undefined ? {} : { sessionToken }) }
      : undefined;
  /** What a message must never show, whatever the SDK or the service put in theirs. */
  const hidden = [
    secretAccessKey,
    sessionToken,
    nonBlank(process.env.AWS_SECRET_ACCESS_KEY),
    nonBlank(process.env.AWS_SESSION_TOKEN),
  ].filter((text): text is string => text !== undefined && text.length >= 4);
  const scrub = (text: string) => {
    let out = text;
    for (const secret of hidden) out = out.split(secret).join('[redacted]');
    return out.length > MAX_QUOTED ? `${out.slice(0, MAX_QUOTED)}…` : out;
  };

  const sdk = await import('@aws-sdk/client-secrets-manager');
  const options: SecretsManagerClientConfig = {
    maxAttempts: MAX_ATTEMPTS,
    requestHandler: { connectionTimeout: CONNECTION_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS },
    ...(config.endpoint_url === undefined ? {} : { endpoint: config.endpoint_url }),
    ...(profile === undefined ? {} : { profile }),
    ...(credentials === undefined ? {} : { credentials }),
  };
  const configuredRegion = nonBlank(env.AWS_REGION) ?? nonBlank(env.AWS_DEFAULT_REGION);
  // The SDK would take any text and fail each call with "Invalid region"; what is set is said at once instead.
  if (configuredRegion !== undefined && !REGION.test(configuredRegion)) {
    const variable = nonBlank(env.AWS_REGION) === undefined ? 'AWS_DEFAULT_REGION' : 'AWS_REGION';
    throw new PluginError(
      ErrorCodes.SECRET_PROVIDER,
      `aws secrets manager: ${variable} is not a region name (such as eu-west-1); got ${quoteValue(configuredRegion)}`,
      { reason: 'no_region' },
    );
  }
  let client: SecretsManagerClient = new sdk.SecretsManagerClient({
    ...options,
    ...(configuredRegion === undefined ? {} : { region: configuredRegion }),
  });
  let region: string | undefined;
  try {
    region = nonBlank(await client.config.region());
  } catch {
    region = undefined;
  }
  if (region === undefined) {
    client.destroy();
    throw new PluginError(
      ErrorCodes.SECRET_PROVIDER,
      `aws secrets manager: no region: set AWS_REGION (or AWS_DEFAULT_REGION) in the environment, or a region in the profile${profile === undefined ? '' : ` "${profile}"`} of the shared AWS config file`,
      { reason: 'no_region' },
    );
  }
  if (configuredRegion === undefined) {
    // Resolved by the SDK from a profile: pin it, so that every call and every message uses the same region.
    client.destroy();
    client = new sdk.SecretsManagerClient({ ...options, region });
  }

  const store = `aws secrets manager (${region})`;
  const at = config.endpoint_url === undefined ? store : `${store} at ${config.endpoint_url}`;
  let closed = false;

  /** The error `get` rejects with for a failed call: never a value, a secret key or a session token. */
  const failure = (error: unknown, path: string): Error => {
    const e = (typeof error === 'object' && error !== null ? error : {}) as AwsLikeError;
    const name = typeof e.name === 'string' ? e.name : 'Error';
    const code = typeof e.code === 'string' ? e.code : undefined;
    const status = e.$metadata?.httpStatusCode;
    const said = typeof e.message === 'string' && e.message !== '' ? `: ${scrub(e.message)}` : '';
    const answered = `${status === undefined ? '' : `${status} `}${name}`;
    if (name === 'ResourceNotFoundException') {
      return secretNotFound(`secret not found at path "${path}" (${store}: ${name})`);
    }
    if (name === 'AbortError') {
      return new PluginError(
        ErrorCodes.SECRET_PROVIDER,
        `${at}: the request for secret "${path}" was cancelled (timed out or shut down)`,
        { reason: 'timeout' },
      );
    }
    if (REFUSED.has(name)) {
      return new PluginError(
        ErrorCodes.SECRET_PROVIDER,
        `${store}: the credentials were refused (${answered}${said})`,
        {
          reason: 'credentials_refused',
        },
      );
    }
    if (name === 'CredentialsProviderError') {
      return new PluginError(
        ErrorCodes.SECRET_PROVIDER,
        `${store}: no credentials found (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or run where an instance or task role is available)${said}`,
        { reason: 'no_credentials' },
      );
    }
    if (
      (code !== undefined && NETWORK_ERROR_CODES.has(code)) ||
      (status === undefined && name === 'TimeoutError')
    ) {
      return new PluginError(ErrorCodes.SECRET_PROVIDER, `${at}: unreachable (${code ?? name}${said})`, {
        reason: 'unreachable',
      });
    }
    if (status !== undefined && e.$fault !== undefined && name !== 'Error' && name !== 'UnknownError') {
      return new PluginError(
        ErrorCodes.SECRET_PROVIDER,
        `${store}: GetSecretValue of "${path}" failed (${answered}${said})`,
        { reason: 'provider_error' },
      );
    }
    return new PluginError(
      ErrorCodes.SECRET_PROVIDER,
      `${at}: unexpected answer to GetSecretValue of "${path}" (${answered}${said})`,
      { reason: 'unexpected_answer' },
    );
  };

  const utf8 = new TextDecoder('utf-8', { fatal: true });

  // Keys of one secret asked for together are read once, from one version.
  const shared = sharedCalls<string>();
  return {
    async get(path, key, getOptions) {
      const whole = await shared(path, async (): Promise<string> => {
        if (closed) throw new PluginError(ErrorCodes.SECRET_PROVIDER, `${store}: the store is closed`);
        let output: { SecretString?: string; SecretBinary?: Uint8Array };
        try {
          output = await client.send(
            new sdk.GetSecretValueCommand({ SecretId: path, VersionStage: 'AWSCURRENT' }),
            getOptions?.signal === undefined ? {} : { abortSignal: getOptions.signal },
          );
        } catch (error) {
          throw failure(error, path);
        }
        let value: string;
        if (typeof output.SecretString === 'string') {
          value = output.SecretString;
        } else if (output.SecretBinary instanceof Uint8Array) {
          try {
            value = utf8.decode(output.SecretBinary);
          } catch {
            throw new PluginError(
              ErrorCodes.SECRET_PROVIDER,
              `${store}: secret "${path}" is binary (SecretBinary) and not UTF-8 text, so it cannot be used as a setting`,
              { reason: 'not_text' },
            );
          }
        } else {
          throw new PluginError(
            ErrorCodes.SECRET_PROVIDER,
            `${at}: unexpected answer to GetSecretValue of "${path}" (neither SecretString nor SecretBinary)`,
            { reason: 'unexpected_answer' },
          );
        }
        return value;
      });
      return selectSecretKey(whole, path, key);
    },
    close() {
      closed = true;
      client.destroy();
    },
  };
}

/**
 * The Azure Key Vault store: `get(name)` is `SecretClient.getSecret(name)` (the latest version). The SDKs
 * (`@azure/keyvault-secrets`, `@azure/identity`) are imported when the store is created, never before: a runtime that
 * does not enable `azure` loads neither.
 */
import { Agent } from 'node:https';
import type { TokenCredential } from '@azure/identity';
import type { SecretClient, SecretClientOptions } from '@azure/keyvault-secrets';
import {
  ErrorCodes,
  errorMessage,
  MAX_NAMED_FILE_BYTES,
  mentioning,
  NETWORK_ERROR_CODES,
  PluginError,
  parseGoBool,
  readTextFileLimited,
  type SecretContext,
  type SecretSource,
  secretNotFound,
  selectSecretKey,
  sharedCalls,
  valueText,
} from '../../core/plugins/kit/index.ts';
import type { AzureProviderConfig } from './config.ts';

/** The bearer token Flipt's emulator credential sends (`fakeCredential`); Lowkey Vault accepts any. */
export const EMULATOR_TOKEN = 'fake-token';
/** The Key Vault API version Flipt pins for the emulator. */
export const EMULATOR_API_VERSION = '7.6';
/** Retries after a first failed attempt (503, a refused connection): few, so a down vault fails within the core's per-call timeout. */
export const MAX_RETRIES = 2;

/** Key Vault secret names: 1–127 characters of `0-9a-zA-Z-`. */
const SECRET_NAME = /^[0-9a-zA-Z-]{1,127}$/;

/** The variables whose proxy the SDK's own proxy policy would use (it reads them from `process.env`). */
const PROXY_VARIABLES = ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'ALL_PROXY', 'all_proxy'];

/**
 * Whether `AZURE_KEYVAULT_EMULATOR` turns the emulator mode on. Flipt turns it on for any non-empty value; so do we,
 * except for the spellings Go's `strconv.ParseBool` reads as false (`0`, `f`, `false`, …), which turn it off.
 */
export function emulatorMode(value: string | undefined): { on: boolean; unusual: boolean } {
  const flag = value === undefined ? undefined : parseGoBool(value);
  if (value === undefined || value === '' || flag === false) return { on: false, unusual: false };
  return { on: true, unusual: flag !== true };
}

/** The first line of an SDK message, cut to a readable length. */
function gist(message: string, limit = 300): string {
  const line = message.split('\n', 1)[0]?.trim() ?? '';
  return line.length > limit ? `${line.slice(0, limit - 1)}…` : line;
}

/** The first sentence of one credential's complaint (`EnvironmentCredential is unavailable.`). */
function firstSentence(message: string): string {
  const text = message.replace(/^CredentialUnavailableError:\s*/, '').replace(/^Error:\s*/, '');
  const end = text.search(/\.(\s|$)/);
  return (end < 0 ? text : text.slice(0, end)).trim();
}

interface ErrorFacts {
  readonly name?: string;
  readonly code?: string;
  readonly statusCode?: number;
  readonly message: string;
  readonly errors?: readonly unknown[];
}

function facts(error: unknown): ErrorFacts {
  if (typeof error !== 'object' || error === null) return { message: String(error) };
  const { name, code, statusCode, errors } = error as Record<string, unknown>;
  return {
    name: typeof name === 'string' ? name : undefined,
    code: typeof code === 'string' ? code : undefined,
    statusCode: typeof statusCode === 'number' ? statusCode : undefined,
    message: errorMessage(error),
    errors: Array.isArray(errors) ? errors : undefined,
  };
}

/** Node's codes for a certificate the agent would not trust. */
const TLS_CODES =
  /^(UNABLE_TO_|SELF_SIGNED_CERT|DEPTH_ZERO_SELF_SIGNED_CERT|CERT_|ERR_TLS_CERT_ALTNAME_INVALID|ERR_SSL_|HOSTNAME_MISMATCH)/;
/** The SDK's own code for a request it could not send, besides Node's. */
const NETWORK_CODES = new Set([...NETWORK_ERROR_CODES, 'REQUEST_SEND_ERROR']);

/**
 * What went wrong with a call to the vault, as a message without the vault's name (the caller adds it). Never holds
 * a token or a value: SDK messages are the service's error text, Node's network errors, or the credential chain's.
 */
export function describeFailure(error: unknown): string {
  const f = facts(error);
  if (f.name === 'AbortError') return 'the request was cancelled (timed out or shut down)';
  if (f.name === 'AggregateAuthenticationError' || f.name === 'CredentialUnavailableError') {
    const inner = (f.errors ?? [error]).map((e) => facts(e));
    const available = inner.filter((e) => e.name !== 'CredentialUnavailableError');
    if (available.length === 0) {
      const reasons = inner.map((e) => firstSentence(e.message)).filter((r) => r !== '');
      return gist(
        `DefaultAzureCredential found no Azure credential to use (${reasons.join('; ') || 'no credential is configured'})`,
        600,
      );
    }
    return `DefaultAzureCredential could not get a token: ${gist(available.map((e) => e.message).join('; '))}`;
  }
  if (f.name === 'AuthenticationError')
    return `DefaultAzureCredential could not get a token: ${gist(f.message)}`;
  if (f.statusCode === 401 || f.statusCode === 403) {
    return `the credentials were refused (${f.statusCode} ${f.code ?? 'no error code'}: ${gist(f.message)})`;
  }
  if (f.statusCode !== undefined) {
    return `unexpected answer (${f.statusCode} ${f.code ?? 'no error code'}: ${gist(f.message)})`;
  }
  if (f.code !== undefined && TLS_CODES.test(f.code)) {
    return `the vault's TLS certificate is not trusted (${f.code}: ${gist(f.message)}); set ca_cert_path to the CA that issued it`;
  }
  if (f.code !== undefined && NETWORK_CODES.has(f.code)) return `unreachable (${gist(f.message)})`;
  if (/challenge (resource|origin)/i.test(f.message)) {
    return `the vault's authentication challenge was refused: ${gist(f.message)}`;
  }
  return gist(f.message) || 'unknown failure';
}

/** A static credential, as Flipt's `fakeCredential` for an emulator: a fixed token, no round-trip to Entra ID. */
const emulatorCredential: TokenCredential = {
  async getToken() {
    return { token: EMULATOR_TOKEN, expiresOnTimestamp: Date.now() + 60 * 60 * 1000 };
  },
};

async function readCa(path: string): Promise<string> {
  try {
    return await readTextFileLimited(path, MAX_NAMED_FILE_BYTES);
  } catch (error) {
    throw new PluginError(
      ErrorCodes.SECRET_PROVIDER,
      `azure key vault: reading ca_cert_path ${valueText(path)}: ${mentioning(errorMessage(error), path)}`,
    );
  }
}

/** Opens the store `config` describes, with the knobs of `ctx.env`. */
export async function openAzureSource(
  ctx: SecretContext,
  config: AzureProviderConfig,
): Promise<SecretSource> {
  const vaultUrl = (config.vault_url ?? '').replace(/\/+$/, '');
  const where = `azure key vault at ${vaultUrl}`;
  const fail = (message: string) => new PluginError(ErrorCodes.SECRET_PROVIDER, `${where}: ${message}`);

  const emulatorValue = ctx.env.AZURE_KEYVAULT_EMULATOR;
  const emulator = emulatorMode(emulatorValue);
  if (emulator.unusual) {
    ctx.log.warn(
      `AZURE_KEYVAULT_EMULATOR=${JSON.stringify(emulatorValue)} is not a boolean; taken as true, as Flipt takes any non-empty value`,
    );
  }

  const ca = config.ca_cert_path === undefined ? undefined : await readCa(config.ca_cert_path);
  const proxied = PROXY_VARIABLES.some((name) => (ctx.env[name] ?? '') !== '');
  // Our own pool, so that close() ends its sockets and ca_cert_path is the only trust. Under a proxy with no CA of
  // our own, the SDK's proxy policy is left to connect (it skips requests that carry an agent).
  const agent = ca !== undefined || !proxied ? new Agent({ keepAlive: true, ca }) : undefined;
  if (ca !== undefined && proxied) {
    ctx.log.warn(
      'a proxy is set in the environment, but ca_cert_path is set too: the vault is reached directly',
    );
  }
  const credentialAgent = emulator.on || proxied ? undefined : new Agent({ keepAlive: true });
  const release = () => {
    agent?.destroy();
    credentialAgent?.destroy();
  };

  let client: SecretClient;
  try {
    const { SecretClient } = await import('@azure/keyvault-secrets');
    let credential: TokenCredential;
    const options: SecretClientOptions = {
      ...(agent === undefined ? {} : { agent }),
      retryOptions: { maxRetries: MAX_RETRIES, retryDelayInMs: 200, maxRetryDelayInMs: 1000 },
    };
    if (emulator.on) {
      ctx.log.info(`connecting to an Azure Key Vault emulator at ${vaultUrl}`);
      credential = emulatorCredential;
      options.disableChallengeResourceVerification = true;
      options.serviceVersion = EMULATOR_API_VERSION;
    } else {
      const { DefaultAzureCredential } = await import('@azure/identity');
      try {
        credential = new DefaultAzureCredential(
          credentialAgent === undefined ? {} : { agent: credentialAgent },
        );
      } catch (error) {
        throw fail(`creating DefaultAzureCredential: ${gist(errorMessage(error))}`);
      }
    }
    client = new SecretClient(vaultUrl, credential, options);
  } catch (error) {
    release();
    if (error instanceof PluginError) throw error;
    throw fail(`creating the client: ${describeFailure(error)}`);
  }

  // Keys of one secret asked for together are read once, from one version.
  const shared = sharedCalls<string>();
  return {
    async get(path, key, options) {
      const whole = await shared(path, async (): Promise<string> => {
        if (!SECRET_NAME.test(path)) {
          throw new PluginError(
            ErrorCodes.SECRET_REFERENCE_INVALID,
            `secret path ${JSON.stringify(path)} is not an Azure Key Vault secret name (1 to 127 characters of 0-9, a-z, A-Z and -)`,
          );
        }
        let value: string | undefined;
        try {
          const secret = await client.getSecret(path, { abortSignal: options?.signal });
          value = secret.value;
        } catch (error) {
          const f = facts(error);
          if (f.statusCode === 404 && f.code === 'SecretNotFound') {
            throw secretNotFound(`secret not found at path ${JSON.stringify(path)} (404 SecretNotFound)`);
          }
          throw fail(`getting secret ${JSON.stringify(path)}: ${describeFailure(error)}`);
        }
        if (value === undefined) throw fail(`secret ${JSON.stringify(path)} came back without a value`);
        return value;
      });
      return selectSecretKey(whole, path, key);
    },
    close() {
      release();
    },
  };
}

import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ErrorCodes,
  MAX_NAMED_FILE_BYTES,
  PluginError,
  parseGoBool,
  readTextFileLimited,
  statFailure,
} from '../../core/plugins/kit/index.ts';

/** What the Vault CLI's TLS variables ask for, read from the runtime's environment. */
export interface VaultTls {
  /** PEM certificates to trust instead of the system's (`VAULT_CACERT`, else every file under `VAULT_CAPATH`). */
  readonly ca?: string;
  /** `VAULT_SKIP_VERIFY`: the server's certificate is not checked at all. */
  readonly skipVerify: boolean;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----/;

async function readPem(file: string, variable: string, where: string): Promise<string> {
  let text: string;
  try {
    text = await readTextFileLimited(file, MAX_NAMED_FILE_BYTES);
  } catch (error) {
    throw new PluginError(
      ErrorCodes.SECRET_PROVIDER,
      `${where}: reading ${variable}: ${statFailure(file, error)}`,
    );
  }
  return text;
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}

/**
 * Reads `VAULT_CACERT`, `VAULT_CAPATH` and `VAULT_SKIP_VERIFY` as the Vault CLI does (go-rootcerts: the file wins
 * over the folder; the folder is walked, every file in it read). `where` starts every message (`vault at …`).
 */
export async function readVaultTls(
  env: Readonly<Record<string, string | undefined>>,
  where: string,
): Promise<VaultTls> {
  const skipText = env.VAULT_SKIP_VERIFY ?? '';
  let skipVerify = false;
  if (skipText !== '') {
    const parsed = parseGoBool(skipText);
    if (parsed === undefined) {
      throw new PluginError(
        ErrorCodes.SECRET_PROVIDER,
        `${where}: could not parse VAULT_SKIP_VERIFY (a boolean: 1, t, true, 0, f, false, …)`,
      );
    }
    skipVerify = parsed;
  }
  const caFile = env.VAULT_CACERT ?? '';
  const caPath = env.VAULT_CAPATH ?? '';
  if (caFile !== '') {
    const ca = await readPem(caFile, 'VAULT_CACERT', where);
    if (!PEM_CERTIFICATE.test(ca)) {
      throw new PluginError(
        ErrorCodes.SECRET_PROVIDER,
        `${where}: VAULT_CACERT (${caFile}) holds no PEM certificate`,
      );
    }
    return { ca, skipVerify };
  }
  if (caPath !== '') {
    let files: string[];
    try {
      files = await filesUnder(caPath);
    } catch (error) {
      throw new PluginError(
        ErrorCodes.SECRET_PROVIDER,
        `${where}: reading VAULT_CAPATH: ${statFailure(caPath, error)}`,
      );
    }
    const pems: string[] = [];
    for (const file of files) {
      const text = await readPem(file, 'VAULT_CAPATH', where);
      if (!PEM_CERTIFICATE.test(text)) {
        throw new PluginError(
          ErrorCodes.SECRET_PROVIDER,
          `${where}: VAULT_CAPATH: ${file} holds no PEM certificate`,
        );
      }
      pems.push(text.trim());
    }
    if (pems.length === 0) {
      throw new PluginError(
        ErrorCodes.SECRET_PROVIDER,
        `${where}: VAULT_CAPATH (${caPath}) holds no certificate`,
      );
    }
    return { ca: `${pems.join('\n')}\n`, skipVerify };
  }
  return { skipVerify };
}

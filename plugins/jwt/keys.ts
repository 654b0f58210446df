import { createPublicKey, type KeyObject, X509Certificate } from 'node:crypto';
import type { JWK } from 'jose';
import type { FetchLike } from '../../core/plugins/kit/index.ts';
import {
  type KeySet,
  localKeySet,
  MAX_NAMED_FILE_BYTES,
  readTextFileLimited,
  remoteKeySet,
} from '../../core/plugins/kit/index.ts';

/**
 * Keys from a JWKS URL: fetched on first use, kept ten minutes, fetched again (at most once a second) when a token's
 * signature fails against them, whatever its `kid` (go-oidc's `RemoteKeySet`, which hashicorp/cap uses for Flipt).
 */
export function jwksKeys(url: string, fetch: FetchLike): KeySet {
  return remoteKeySet(url, fetch);
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]+?-----END \1-----/g;
const PUBLIC_LABELS = new Set(['PUBLIC KEY', 'RSA PUBLIC KEY', 'CERTIFICATE']);
/** Key types jose can verify Flipt's algorithms with (RS*, ES*, EdDSA over Ed25519). */
const SUPPORTED_KEY_TYPES = new Set(['rsa', 'ec', 'ed25519']);

/** The keys of a PEM file, and what was left out of it and why. */
export interface PemKeys {
  readonly keys: KeySet;
  readonly skipped: readonly string[];
}

function publicKeyOf(block: string, label: string): KeyObject {
  return label === 'CERTIFICATE' ? new X509Certificate(block).publicKey : createPublicKey(block);
}

/**
 * The public keys of a PEM file: every `PUBLIC KEY`, `RSA PUBLIC KEY` and `CERTIFICATE` block holding an RSA, EC or
 * Ed25519 key (Flipt reads the first block only, and refuses Ed25519 and PKCS#1). Read once, at start-up. A token's
 * `kid` is ignored, as Flipt ignores it for a static key: these keys have none.
 */
export async function pemKeys(path: string): Promise<PemKeys> {
  // Imported here, from its own module: jose's index is 46 modules, and only a PEM key file needs this one.
  const { exportJWK } = await import('jose/key/export');
  let text: string;
  try {
    text = await readTextFileLimited(path, MAX_NAMED_FILE_BYTES);
  } catch (error) {
    throw new Error(`failed to read key file ${path}: ${(error as Error).message}`);
  }
  const jwks: JWK[] = [];
  const skipped: string[] = [];
  for (const [block, label = ''] of text.matchAll(PEM_BLOCK)) {
    if (!PUBLIC_LABELS.has(label)) {
      skipped.push(`a ${label} block (only PUBLIC KEY, RSA PUBLIC KEY and CERTIFICATE blocks are read)`);
      continue;
    }
    try {
      const key = publicKeyOf(block, label);
      if (!SUPPORTED_KEY_TYPES.has(key.asymmetricKeyType ?? '')) {
        skipped.push(`a ${key.asymmetricKeyType ?? 'unknown'} key`);
        continue;
      }
      jwks.push(await exportJWK(key));
    } catch (error) {
      skipped.push(`a ${label} block that does not parse (${(error as Error).message})`);
    }
  }
  if (jwks.length === 0) {
    throw new Error(
      `failed to parse public key PEM block: ${path} holds no RSA, ECDSA or Ed25519 public key${skipped.length > 0 ? `, only ${skipped.join(', ')}` : ''}`,
    );
  }
  return { skipped, keys: await localKeySet({ keys: jwks }, { ignoreKid: true }) };
}

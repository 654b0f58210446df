import { createPublicKey, type KeyObject, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  exportJWK,
  type JWK,
  type JWTVerifyGetKey,
} from 'jose';
import type { FetchLike } from '../../core/plugins/contracts.ts';

/**
 * How soon a token whose `kid` the cached JWKS lacks may make us fetch the JWKS again: often enough to pick up a
 * rotation at once, rarely enough that a flood of made-up key ids cannot hammer the JWKS server.
 */
export const JWKS_REFETCH_COOLDOWN_MS = 1_000;

/** Keys from a JWKS URL: fetched on first use, kept ten minutes, fetched again for an unknown `kid`. */
export function jwksKeys(url: string, fetch: FetchLike): JWTVerifyGetKey {
  return createRemoteJWKSet(new URL(url), {
    [customFetch]: fetch as typeof globalThis.fetch,
    cooldownDuration: JWKS_REFETCH_COOLDOWN_MS,
  });
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]+?-----END \1-----/g;
const SUPPORTED_KEY_TYPES = new Set(['rsa', 'ec', 'ed25519', 'ed448']);

function publicKeyOf(block: string, label: string): KeyObject {
  return label === 'CERTIFICATE' ? new X509Certificate(block).publicKey : createPublicKey(block);
}

/**
 * The public keys of a PEM file: every `PUBLIC KEY`, `RSA PUBLIC KEY` and `CERTIFICATE` block, RSA, EC or Ed25519
 * (Flipt reads the first block only, and refuses Ed25519 and PKCS#1). Read once, at start-up.
 */
export async function pemKeys(path: string): Promise<JWTVerifyGetKey> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new Error(`failed to read key file ${path}: ${(error as Error).message}`);
  }
  const keys: JWK[] = [];
  const problems: string[] = [];
  for (const [block, label = ''] of text.matchAll(PEM_BLOCK)) {
    try {
      const key = publicKeyOf(block, label);
      if (!SUPPORTED_KEY_TYPES.has(key.asymmetricKeyType ?? '')) {
        problems.push(`a ${key.asymmetricKeyType ?? 'unknown'} key`);
        continue;
      }
      keys.push(await exportJWK(key));
    } catch (error) {
      problems.push(`a ${label} block that does not parse (${(error as Error).message})`);
    }
  }
  if (keys.length === 0) {
    throw new Error(
      `failed to parse public key PEM block: ${path} holds no RSA, ECDSA or Ed25519 public key${problems.length > 0 ? `, only ${problems.join(', ')}` : ''}`,
    );
  }
  return createLocalJWKSet({ keys });
}

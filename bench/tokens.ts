import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT } from 'jose';

/** JWTs for the JWT scenarios: one to repeat, and a file of distinct ones, signed by a key in a PEM file. */
export interface TokenSet {
  readonly publicKeyFile: string;
  /** A token sent with every request (the cache of verified tokens answers it). */
  readonly one: string;
  /** One distinct token per line, more than the verifier remembers, so a cycle through them is always first-seen. */
  readonly file: string;
}

/** Signs `count` distinct tokens (at least 11 000: the verifier remembers 10 000) in parallel batches. */
export async function makeTokens(dir: string, alg: 'ES256' | 'RS256', count: number): Promise<TokenSet> {
  const { privateKey, publicKey } =
    alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const publicKeyFile = join(dir, `${alg}.pem`);
  writeFileSync(publicKeyFile, publicKey.export({ type: 'spki', format: 'pem' }));
  const exp = Math.floor(Date.now() / 1000) + 3600;
  const sign = () =>
    new SignJWT({ sub: 'bench', jti: randomUUID(), user: { email: 'bench@example.com', role: 'viewer' } })
      .setProtectedHeader({ alg })
      .setIssuedAt()
      .setExpirationTime(exp)
      .sign(privateKey);
  const tokens: string[] = [];
  const total = Math.max(count, 11_000);
  while (tokens.length < total) {
    tokens.push(...(await Promise.all(Array.from({ length: Math.min(500, total - tokens.length) }, sign))));
  }
  const file = join(dir, `${alg}-tokens.txt`);
  writeFileSync(file, `${tokens.join('\n')}\n`);
  return { publicKeyFile, one: await sign(), file };
}

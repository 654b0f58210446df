import { hashClientToken } from '../auth/token.ts';
import type { Authentication, AuthenticationFilter, NewAuthentication } from '../plugins/contracts.ts';
import { copyAuthentication } from './shared.ts';
import type { AuthenticationStore, ListRequest } from './types.ts';

/** A token from `authentication.methods.token.storage.tokens`, its credential already resolved. */
export interface StaticToken {
  readonly name: string;
  readonly credential: string;
  readonly metadata: Readonly<Record<string, string>>;
}

/**
 * Flipt's static-token store: configured tokens answer client-token lookups first, as `METHOD_TOKEN`
 * authentications whose id is the token's name, created at start-up, never expiring. Everything else goes to the
 * store underneath, so static tokens cannot be listed, fetched by id, expired or deleted.
 */
export class StaticTokenStore implements AuthenticationStore {
  readonly #inner: AuthenticationStore;
  readonly #byHash = new Map<string, Authentication>();

  constructor(inner: AuthenticationStore, tokens: readonly StaticToken[], startedAt: Date) {
    this.#inner = inner;
    for (const token of tokens) {
      this.#byHash.set(hashClientToken(token.credential), {
        id: token.name,
        method: 'METHOD_TOKEN',
        createdAt: startedAt,
        updatedAt: startedAt,
        metadata: { ...token.metadata },
      });
    }
  }

  getAuthenticationByClientToken(clientToken: string) {
    return this.getAuthenticationByTokenHash(hashClientToken(clientToken));
  }

  async getAuthenticationByTokenHash(tokenHash: string) {
    const found = this.#byHash.get(tokenHash);
    return found === undefined
      ? this.#inner.getAuthenticationByTokenHash(tokenHash)
      : copyAuthentication(found);
  }

  createAuthentication(input: NewAuthentication) {
    return this.#inner.createAuthentication(input);
  }

  getAuthenticationById(id: string) {
    return this.#inner.getAuthenticationById(id);
  }

  getExtras(id: string) {
    return this.#inner.getExtras(id);
  }

  listAuthentications(request: ListRequest) {
    return this.#inner.listAuthentications(request);
  }

  deleteAuthentications(filter: AuthenticationFilter) {
    return this.#inner.deleteAuthentications(filter);
  }

  expireAuthentication(id: string, expiresAt: Date) {
    return this.#inner.expireAuthentication(id, expiresAt);
  }

  putChallenge(state: string, value: string, ttlMs: number) {
    return this.#inner.putChallenge(state, value, ttlMs);
  }

  popChallenge(state: string) {
    return this.#inner.popChallenge(state);
  }

  close() {
    return this.#inner.close();
  }

  ready() {
    return this.#inner.ready?.() ?? true;
  }
}

/** Why a static token cannot be used: an empty credential, or the same credential as another token. */
export type CredentialProblem = { readonly name: string } & (
  | { readonly empty: true }
  | { readonly sameAs: string }
);

/**
 * Static tokens that cannot be told apart or that anyone could present: an empty (or blank) credential would let
 * `Authorization: Bearer ` authenticate, and two tokens with one credential make the caller's identity arbitrary.
 */
export function credentialProblems(
  tokens: ReadonlyArray<{ readonly name: string; readonly credential: string }>,
) {
  const problems: CredentialProblem[] = [];
  const owners = new Map<string, string>();
  for (const { name, credential } of tokens) {
    if (credential.trim() === '') {
      problems.push({ name, empty: true });
      continue;
    }
    const owner = owners.get(credential);
    if (owner === undefined) owners.set(credential, name);
    else problems.push({ name, sameAs: owner });
  }
  return problems;
}

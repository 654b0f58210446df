import { hashClientToken } from '../auth/token.ts';
import type { Authentication, AuthenticationFilter, NewAuthentication } from '../plugins/contracts.ts';
import { copyAuthentication } from './memory.ts';
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

  async getAuthenticationByClientToken(clientToken: string) {
    const found = this.#byHash.get(hashClientToken(clientToken));
    return found === undefined
      ? this.#inner.getAuthenticationByClientToken(clientToken)
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

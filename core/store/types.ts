import type { hashClientToken } from '../auth/token.ts';
import type {
  Authentication,
  AuthenticationFilter,
  ListRequest,
  ListResult,
  NewAuthentication,
  SessionFacts,
} from '../plugins/contracts.ts';

export type { ListRequest, ListResult } from '../plugins/contracts.ts';

/** `GET /auth/v1/tokens` paging: Flipt's defaults. */
export const DEFAULT_LIST_LIMIT = 25;
export const MAX_LIST_LIMIT = 100;

/** The page size a request asks for, as Flipt reads it: 0 or absent means 25, more than 100 means 100. */
export function pageSize(limit: number | undefined): number {
  if (limit === undefined || limit <= 0) return DEFAULT_LIST_LIMIT;
  return Math.min(limit, MAX_LIST_LIMIT);
}

/** What the store keeps besides the public authentication, for logout flows. */
export type StoredExtras = SessionFacts;

/**
 * Where authentications live. Every implementation (memory, Redis) passes the same harness
 * (`store-harness.ts`). Client tokens are kept only as hashes. Methods fail with coded errors:
 * `ERR_INVALID_ARGUMENT` for a malformed request, `ERR_NOT_FOUND` where the API reports 404, `ERR_UNAVAILABLE`
 * when the backing service cannot be reached.
 */
export interface AuthenticationStore {
  /** Stores a new authentication under a new id; the client token (given, or generated) is returned once. */
  createAuthentication(
    input: NewAuthentication,
  ): Promise<{ clientToken: string; authentication: Authentication }>;
  /**
   * The authentication a client token belongs to, expired or not; the caller judges expiry. The token is text (as
   * created or configured), hashed from its UTF-8 bytes; a credential read from a request is bytes, looked up with
   * `getAuthenticationByTokenHash(hashClientToken(credentialBytes(value)))`.
   */
  getAuthenticationByClientToken(clientToken: string): Promise<Authentication | undefined>;
  /**
   * The same by the token's hash ({@link hashClientToken}), for a caller that already has it: the request pipeline
   * hashes a token once, whichever stores it then asks.
   */
  getAuthenticationByTokenHash(tokenHash: string): Promise<Authentication | undefined>;
  getAuthenticationById(id: string): Promise<Authentication | undefined>;
  /** The store-side facts kept with an authentication (provider, subject, session id, ID token). */
  getExtras(id: string): Promise<StoredExtras | undefined>;
  listAuthentications(request: ListRequest): Promise<ListResult>;
  /** Deletes what matches every field set; at least one must be. Resolves to how many were deleted. */
  deleteAuthentications(filter: AuthenticationFilter): Promise<number>;
  /** Moves the expiry (earlier or later) and the update time. `ERR_NOT_FOUND` when there is no such id. */
  expireAuthentication(id: string, expiresAt: Date): Promise<void>;
  putChallenge(state: string, value: string, ttlMs: number): Promise<void>;
  /** Returns and removes; a second pop, or a pop after the time to live, finds nothing. */
  popChallenge(state: string): Promise<string | undefined>;
  /** Stops background work and releases connections. */
  close(): Promise<void>;
  /** Whether the backing service is reachable now (stores without one are always ready). */
  ready?(): boolean;
  /**
   * Changes the credentials used for the connections made from now on (a rotated Redis password); those open stay
   * as they are until they reconnect.
   */
  setCredentials?(credentials: { readonly username?: string; readonly password?: string }): void;
}

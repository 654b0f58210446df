import { randomUUID } from 'node:crypto';
import { generateClientToken, hashClientToken } from '../auth/token.ts';
import { ErrorCodes, PortcullisError } from '../errors.ts';
import type { Authentication, AuthenticationFilter, NewAuthentication } from '../plugins/contracts.ts';
import {
  type AuthenticationStore,
  type ListRequest,
  type ListResult,
  pageSize,
  type StoredExtras,
} from './types.ts';

/** Settings of {@link MemoryStore}. */
export interface MemoryStoreOptions {
  /** Expired authentications are kept this long before cleanup deletes them (ms). */
  readonly gracePeriodMs: number;
  /** How often cleanup runs (ms); 0 turns the job off (tests call `cleanup()`). */
  readonly cleanupIntervalMs: number;
  /** The clock; tests replace it. */
  readonly now?: () => Date;
}

interface Entry {
  authentication: Authentication;
  readonly tokenHash: string;
  readonly extras: StoredExtras;
  /** Creation order, to keep lists stable when several authentications share a millisecond. */
  readonly sequence: number;
}

/** Copies an authentication so that no caller can change what the store holds. */
export function copyAuthentication(authentication: Authentication): Authentication {
  const copy = (date: Date | undefined) => (date === undefined ? undefined : new Date(date.getTime()));
  return {
    id: authentication.id,
    method: authentication.method,
    ...(authentication.expiresAt && { expiresAt: copy(authentication.expiresAt) }),
    ...(authentication.createdAt && { createdAt: copy(authentication.createdAt) }),
    ...(authentication.updatedAt && { updatedAt: copy(authentication.updatedAt) }),
    metadata: { ...authentication.metadata },
  };
}

/** Flipt's message for a delete without any predicate. */
export const DELETE_NEEDS_PREDICATE = 'id, method or expired-before timestamp is required';
/** Flipt's message when an authentication id is unknown. */
export const AUTHENTICATION_NOT_FOUND = 'getting authentication by id not found';

/** Whether `extras` and `authentication` match every field `filter` sets. */
export function matchesFilter(
  authentication: Authentication,
  extras: StoredExtras,
  filter: AuthenticationFilter,
): boolean {
  const { expiresAt } = authentication;
  return (
    (filter.id === undefined || authentication.id === filter.id) &&
    (filter.method === undefined || authentication.method === filter.method) &&
    (filter.expiredBefore === undefined ||
      (expiresAt !== undefined && expiresAt.getTime() < filter.expiredBefore.getTime())) &&
    (filter.provider === undefined || extras.provider === filter.provider) &&
    (filter.subject === undefined || extras.subject === filter.subject) &&
    (filter.sessionId === undefined || extras.sessionId === filter.sessionId)
  );
}

/** Refuses a delete that names nothing (it would delete everything), as Flipt does. */
export function assertDeletePredicate(filter: AuthenticationFilter): void {
  if (filter.id === undefined && filter.method === undefined && filter.expiredBefore === undefined) {
    throw new PortcullisError(ErrorCodes.INVALID_ARGUMENT, DELETE_NEEDS_PREDICATE);
  }
}

/**
 * Authentications in process memory (Flipt's default). Lost on restart. A background job, every
 * `cleanupIntervalMs`, deletes authentications that expired more than `gracePeriodMs` ago and expired challenges.
 */
export class MemoryStore implements AuthenticationStore {
  readonly #byId = new Map<string, Entry>();
  readonly #idByHash = new Map<string, string>();
  readonly #challenges = new Map<string, { value: string; expiresAt: number }>();
  readonly #now: () => Date;
  readonly #gracePeriodMs: number;
  readonly #timer: NodeJS.Timeout | undefined;
  #sequence = 0;

  constructor(options: MemoryStoreOptions) {
    this.#now = options.now ?? (() => new Date());
    this.#gracePeriodMs = options.gracePeriodMs;
    if (options.cleanupIntervalMs > 0) {
      this.#timer = setInterval(() => this.cleanup(), options.cleanupIntervalMs);
      this.#timer.unref();
    }
  }

  async createAuthentication(input: NewAuthentication) {
    const clientToken = input.clientToken ?? generateClientToken();
    const now = this.#now();
    const authentication: Authentication = {
      id: randomUUID(),
      method: input.method,
      ...(input.expiresAt && { expiresAt: new Date(input.expiresAt.getTime()) }),
      createdAt: now,
      updatedAt: new Date(now.getTime()),
      metadata: { ...input.metadata },
    };
    const tokenHash = hashClientToken(clientToken);
    const sequence = this.#sequence++;
    this.#byId.set(authentication.id, { authentication, tokenHash, extras: { ...input.extras }, sequence });
    this.#idByHash.set(tokenHash, authentication.id);
    return { clientToken, authentication: copyAuthentication(authentication) };
  }

  async getAuthenticationByClientToken(clientToken: string) {
    const id = this.#idByHash.get(hashClientToken(clientToken));
    const entry = id === undefined ? undefined : this.#byId.get(id);
    return entry === undefined ? undefined : copyAuthentication(entry.authentication);
  }

  async getAuthenticationById(id: string) {
    const entry = this.#byId.get(id);
    return entry === undefined ? undefined : copyAuthentication(entry.authentication);
  }

  async getExtras(id: string) {
    const entry = this.#byId.get(id);
    return entry === undefined ? undefined : { ...entry.extras };
  }

  async listAuthentications(request: ListRequest): Promise<ListResult> {
    const offset = parseOffset(request.pageToken);
    const size = pageSize(request.limit);
    const all = [...this.#byId.values()]
      .filter((entry) => request.method === undefined || entry.authentication.method === request.method)
      .sort(
        (a, b) =>
          (a.authentication.createdAt?.getTime() ?? 0) - (b.authentication.createdAt?.getTime() ?? 0) ||
          a.sequence - b.sequence,
      )
      .map((entry) => entry.authentication);
    const page = all.slice(offset, offset + size);
    return {
      authentications: page.map(copyAuthentication),
      nextPageToken: offset + size < all.length ? String(offset + size) : '',
    };
  }

  async deleteAuthentications(filter: AuthenticationFilter) {
    assertDeletePredicate(filter);
    let deleted = 0;
    for (const [id, entry] of this.#byId) {
      if (!matchesFilter(entry.authentication, entry.extras, filter)) continue;
      this.#byId.delete(id);
      this.#idByHash.delete(entry.tokenHash);
      deleted++;
    }
    return deleted;
  }

  async expireAuthentication(id: string, expiresAt: Date) {
    const entry = this.#byId.get(id);
    if (entry === undefined) throw new PortcullisError(ErrorCodes.NOT_FOUND, AUTHENTICATION_NOT_FOUND);
    entry.authentication = {
      ...entry.authentication,
      expiresAt: new Date(expiresAt.getTime()),
      updatedAt: this.#now(),
    };
  }

  async putChallenge(state: string, value: string, ttlMs: number) {
    this.#challenges.set(state, { value, expiresAt: this.#now().getTime() + ttlMs });
  }

  async popChallenge(state: string) {
    const challenge = this.#challenges.get(state);
    this.#challenges.delete(state);
    return challenge !== undefined && challenge.expiresAt > this.#now().getTime()
      ? challenge.value
      : undefined;
  }

  /** Deletes authentications expired for longer than the grace period, and expired challenges. */
  cleanup(): number {
    const now = this.#now().getTime();
    let deleted = 0;
    for (const [id, entry] of this.#byId) {
      const expiresAt = entry.authentication.expiresAt?.getTime();
      if (expiresAt === undefined || expiresAt >= now - this.#gracePeriodMs) continue;
      this.#byId.delete(id);
      this.#idByHash.delete(entry.tokenHash);
      deleted++;
    }
    for (const [state, challenge] of this.#challenges) {
      if (challenge.expiresAt <= now) this.#challenges.delete(state);
    }
    return deleted;
  }

  async close() {
    clearInterval(this.#timer);
  }
}

function parseOffset(pageToken: string | undefined): number {
  if (pageToken === undefined || pageToken === '') return 0;
  if (!/^\d{1,9}$/.test(pageToken)) {
    throw new PortcullisError(ErrorCodes.INVALID_ARGUMENT, `invalid page token "${pageToken}"`);
  }
  return Number(pageToken);
}

import { randomUUID } from 'node:crypto';
import { generateClientToken, hashClientToken } from '../auth/token.ts';
import { ErrorCodes, PortcullisError } from '../errors.ts';
import type { Authentication, AuthenticationFilter, NewAuthentication } from '../plugins/contracts.ts';
import { answersAtOnce } from './at-once.ts';
import { AUTHENTICATION_NOT_FOUND, assertDeletePredicate, matchesFilter } from './shared.ts';
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

/**
 * One stored authentication, kept compact (about 0.7 KiB with an OIDC session's metadata): times as numbers rather
 * than `Date` objects, no extras object when there are none. Callers get copies built by {@link toAuthentication}.
 */
interface Entry {
  readonly id: string;
  readonly method: string;
  expiresAt: number | undefined;
  readonly createdAt: number;
  updatedAt: number;
  readonly metadata: Readonly<Record<string, string>>;
  readonly tokenHash: string;
  readonly extras: StoredExtras | undefined;
}

function toAuthentication(entry: Entry): Authentication {
  return {
    id: entry.id,
    method: entry.method,
    ...(entry.expiresAt !== undefined && { expiresAt: new Date(entry.expiresAt) }),
    createdAt: new Date(entry.createdAt),
    updatedAt: new Date(entry.updatedAt),
    metadata: { ...entry.metadata },
  };
}

/**
 * A new id: `randomUUID()` gives strings that keep about 450 bytes of memory each (they point into Node's cache of
 * random bytes); a copy of its text keeps 60.
 */
function newId(): string {
  return JSON.parse(`"${randomUUID()}"`) as string;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * How many OAuth challenges (logins begun and not finished) the memory store keeps at most, about 50 MB. Beyond it
 * the oldest is forgotten: under a flood of `authorize` requests, memory stays bounded and the newest logins work.
 */
export const MAX_PENDING_CHALLENGES = 100_000;

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

  constructor(options: MemoryStoreOptions) {
    this.#now = options.now ?? (() => new Date());
    this.#gracePeriodMs = options.gracePeriodMs;
    if (options.cleanupIntervalMs > 0) {
      // setInterval runs every millisecond when given more than 2^31-1 ms (about 24.8 days).
      this.#timer = setInterval(() => this.cleanup(), Math.min(options.cleanupIntervalMs, MAX_TIMER_MS));
      this.#timer.unref();
    }
  }

  async createAuthentication(input: NewAuthentication) {
    const clientToken = input.clientToken ?? generateClientToken();
    const now = this.#now().getTime();
    const extras = input.extras === undefined ? undefined : { ...input.extras };
    const entry: Entry = {
      id: newId(),
      method: input.method,
      expiresAt: input.expiresAt?.getTime(),
      createdAt: now,
      updatedAt: now,
      metadata: { ...input.metadata },
      tokenHash: hashClientToken(clientToken),
      extras: extras === undefined || Object.keys(extras).length === 0 ? undefined : extras,
    };
    this.#byId.set(entry.id, entry);
    this.#idByHash.set(entry.tokenHash, entry.id);
    return { clientToken, authentication: toAuthentication(entry) };
  }

  getAuthenticationByClientToken(clientToken: string) {
    return this.getAuthenticationByTokenHash(hashClientToken(clientToken));
  }

  async getAuthenticationByTokenHash(tokenHash: string) {
    return this.#byTokenHash(tokenHash);
  }

  static {
    // The request pipeline's lookup, at once (lookUpTokenHash): while a store's lookup is this one.
    answersAtOnce(
      MemoryStore.prototype.getAuthenticationByTokenHash,
      function (this: AuthenticationStore, tokenHash) {
        return (this as MemoryStore).#byTokenHash(tokenHash);
      },
    );
  }

  #byTokenHash(tokenHash: string): Authentication | undefined {
    const id = this.#idByHash.get(tokenHash);
    const entry = id === undefined ? undefined : this.#byId.get(id);
    return entry === undefined ? undefined : toAuthentication(entry);
  }

  async getAuthenticationById(id: string) {
    const entry = this.#byId.get(id);
    return entry === undefined ? undefined : toAuthentication(entry);
  }

  async getExtras(id: string) {
    const entry = this.#byId.get(id);
    return entry === undefined ? undefined : { ...entry.extras };
  }

  async listAuthentications(request: ListRequest): Promise<ListResult> {
    const offset = parseOffset(request.pageToken);
    const size = pageSize(request.limit);
    // A Map iterates in insertion order, which is creation order: Flipt's order, without sorting.
    const all: Entry[] = [];
    for (const entry of this.#byId.values()) {
      if (request.method === undefined || entry.method === request.method) all.push(entry);
    }
    const page = all.slice(offset, offset + size);
    return {
      authentications: page.map(toAuthentication),
      nextPageToken: offset + size < all.length ? String(offset + size) : '',
    };
  }

  async deleteAuthentications(filter: AuthenticationFilter) {
    assertDeletePredicate(filter);
    let deleted = 0;
    for (const [id, entry] of this.#byId) {
      if (!matchesFilter(toAuthentication(entry), entry.extras ?? {}, filter)) continue;
      this.#byId.delete(id);
      this.#idByHash.delete(entry.tokenHash);
      deleted++;
    }
    return deleted;
  }

  async expireAuthentication(id: string, expiresAt: Date) {
    const entry = this.#byId.get(id);
    if (entry === undefined) throw new PortcullisError(ErrorCodes.NOT_FOUND, AUTHENTICATION_NOT_FOUND);
    entry.expiresAt = expiresAt.getTime();
    entry.updatedAt = this.#now().getTime();
  }

  async putChallenge(state: string, value: string, ttlMs: number) {
    const now = this.#now().getTime();
    if (this.#challenges.size >= MAX_PENDING_CHALLENGES) {
      // Anyone may start a login, so the map must not grow without end. Oldest first (insertion order): drop the
      // expired ones at the front, then, if still full, the oldest of all.
      for (const [key, challenge] of this.#challenges) {
        if (challenge.expiresAt > now && this.#challenges.size < MAX_PENDING_CHALLENGES) break;
        this.#challenges.delete(key);
        if (challenge.expiresAt > now) break;
      }
    }
    this.#challenges.delete(state);
    this.#challenges.set(state, { value, expiresAt: now + ttlMs });
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
      if (entry.expiresAt === undefined || entry.expiresAt >= now - this.#gracePeriodMs) continue;
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

  /** Everything held, as JSON, for debugging and for tests that check what is (not) kept. */
  snapshot(): string {
    return JSON.stringify({
      authentications: [...this.#byId.values()],
      tokenHashes: [...this.#idByHash.keys()],
      challenges: [...this.#challenges.entries()],
    });
  }
}

function parseOffset(pageToken: string | undefined): number {
  if (pageToken === undefined || pageToken === '') return 0;
  if (!/^\d{1,9}$/.test(pageToken)) {
    throw new PortcullisError(ErrorCodes.INVALID_ARGUMENT, `invalid page token "${pageToken}"`);
  }
  return Number(pageToken);
}

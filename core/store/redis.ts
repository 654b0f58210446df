import { randomUUID } from 'node:crypto';
import { type ConnectionOptions, rootCertificates } from 'node:tls';
import type { Cluster, Redis, RedisOptions } from 'ioredis';
import { authenticationJson, parseTimestamp } from '../auth/json.ts';
import { generateClientToken, hashClientToken } from '../auth/token.ts';
import type { RedisStorageConfig } from '../config/types.ts';
import { ErrorCodes, PortcullisError } from '../errors.ts';
import { MAX_NAMED_FILE_BYTES, readTextFileLimited } from '../fs/read-limited.ts';
import type { Logger } from '../log.ts';
import type { Authentication, AuthenticationFilter, NewAuthentication } from '../plugins/contracts.ts';
import { AUTHENTICATION_NOT_FOUND, assertDeletePredicate, matchesFilter } from './shared.ts';
import {
  type AuthenticationStore,
  type ListRequest,
  type ListResult,
  pageSize,
  type StoredExtras,
} from './types.ts';

/** Settings of {@link openRedisStore}. */
export interface RedisStoreOptions {
  readonly config: RedisStorageConfig;
  /** Keys live this long past an authentication's expiry (ms). */
  readonly gracePeriodMs: number;
  readonly log: Logger;
  readonly now?: () => Date;
}

type Client = Redis | Cluster;

const SCAN_BATCH = 1000;
/** go-redis's timeouts when `net_timeout` is 0: dial 5 s, read and write 3 s. */
const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
const DEFAULT_COMMAND_TIMEOUT_MS = 3_000;

/**
 * Flipt's key layout (`internal/storage/authn/redis`), so that Flipt and portcullis can share one Redis:
 * `<prefix>:auth:id:<id>` (a hash), `auth:token:<hash>` (the id), `auth:all` and `auth:method:<METHOD>` (sets of
 * ids), `auth:oauth_challenge:<state>`. With an empty prefix the keys start at `auth:`.
 */
export function redisKeys(prefix: string) {
  const key = (rest: string) => (prefix === '' ? rest : `${prefix}:${rest}`);
  return {
    id: (id: string) => key(`auth:id:${id}`),
    token: (tokenHash: string) => key(`auth:token:${tokenHash}`),
    all: key('auth:all'),
    method: (method: string) => key(`auth:method:${method}`),
    challenge: (state: string) => key(`auth:oauth_challenge:${state}`),
  };
}

/** The hash fields of an authentication, as Flipt writes them. */
const FIELD = {
  authentication: 'authentication',
  tokenHash: 'token_hash',
  provider: 'provider',
  subject: 'sub',
  sessionId: 'session_id',
  idToken: 'id_token',
  expiresAt: 'expires_at',
} as const;

/** An authentication as protojson with default values omitted (how Flipt stores it). */
function encodeAuthentication(authentication: Authentication): string {
  const { metadata, ...rest } = authenticationJson(authentication);
  return JSON.stringify(Object.keys(metadata).length === 0 ? rest : { ...rest, metadata });
}

function decodeAuthentication(text: string): Authentication {
  const json = JSON.parse(text) as Record<string, unknown>;
  const time = (value: unknown) => (typeof value === 'string' ? parseTimestamp(value) : undefined);
  const expiresAt = time(json.expiresAt);
  const createdAt = time(json.createdAt);
  const updatedAt = time(json.updatedAt);
  return {
    id: String(json.id ?? ''),
    method: String(json.method ?? 'METHOD_NONE'),
    ...(expiresAt && { expiresAt }),
    ...(createdAt && { createdAt }),
    ...(updatedAt && { updatedAt }),
    metadata: { ...((json.metadata as Record<string, string> | undefined) ?? {}) },
  };
}

function extrasOf(hash: Record<string, string>): StoredExtras {
  const {
    [FIELD.provider]: provider,
    [FIELD.subject]: subject,
    [FIELD.sessionId]: sessionId,
    [FIELD.idToken]: idToken,
  } = hash;
  return {
    ...(provider && { provider }),
    ...(subject && { subject }),
    ...(sessionId && { sessionId }),
    ...(idToken && { idToken }),
  };
}

/** An error Redis replied (as opposed to a connection failure or a timeout). */
function isReplyError(error: unknown): error is Error {
  return error instanceof Error && error.name === 'ReplyError';
}

/**
 * Connection failures (refused, reset, timed out, the client offline while it reconnects) mean the store is
 * unavailable (HTTP 503); an error Redis itself replied is a bug (500).
 */
function storeError(error: unknown): Error {
  if (error instanceof PortcullisError) return error;
  if (isReplyError(error)) return error;
  return new PortcullisError(ErrorCodes.UNAVAILABLE, 'authentication store unavailable', { cause: error });
}

/** Page tokens: Flipt's bare `SSCAN` cursor, or `<cursor>.<skip>` to resume inside the batch that cursor gives. */
function parsePageToken(pageToken: string | undefined): { cursor: string; skip: number } {
  if (pageToken === undefined || pageToken === '') return { cursor: '0', skip: 0 };
  const match = /^(\d{1,20})(?:\.(\d{1,9}))?$/.exec(pageToken);
  if (match === null)
    throw new PortcullisError(ErrorCodes.INVALID_ARGUMENT, `invalid page token "${pageToken}"`);
  return { cursor: match[1] as string, skip: Number(match[2] ?? 0) };
}

/** `GET` the token's id, then `HGET` that authentication's field: Flipt's two lookups, in one round trip. */
const LOOKUP_SCRIPT = `
local id = redis.call('GET', KEYS[1])
if not id then return false end
return {id, redis.call('HGET', ARGV[1] .. id, ARGV[2])}
`;

interface ScriptedCommands {
  portcullisLookup(
    tokenKey: string,
    idKeyPrefix: string,
    field: string,
  ): Promise<[string, string | null] | null>;
}

/**
 * Whether a server refuses scripts as such (an ACL without `@scripting`, a server or proxy without `EVAL`), as
 * opposed to a passing refusal (`BUSY`, `LOADING`, `READONLY` during a failover) that the next call may not meet.
 */
function refusesScripts(error: unknown): boolean {
  if (!isReplyError(error)) return false;
  return /^(NOPERM|ERR unknown command|ERR unknown or disabled command|ERR .*not allowed|ERR .*disabled)/i.test(
    error.message,
  );
}

/** Authentications in Redis (single node or cluster), expiring by key TTL. Passes the store harness. */
export class RedisStore implements AuthenticationStore {
  readonly #client: Client;
  readonly #keys: ReturnType<typeof redisKeys>;
  readonly #gracePeriodMs: number;
  readonly #now: () => Date;
  #scripted: boolean;

  constructor(
    client: Client,
    options: Pick<RedisStoreOptions, 'gracePeriodMs' | 'now'> & { prefix: string; scripted?: boolean },
  ) {
    this.#client = client;
    this.#keys = redisKeys(options.prefix);
    this.#scripted = !('nodes' in client) && options.scripted !== false;
    if (this.#scripted) {
      client.defineCommand('portcullisLookup', { numberOfKeys: 1, lua: LOOKUP_SCRIPT });
    }
    this.#gracePeriodMs = options.gracePeriodMs;
    this.#now = options.now ?? (() => new Date());
  }
  setCredentials(credentials: { readonly username?: string; readonly password?: string }): void {
    // ioredis reads these options on every (re)connection; a cluster, for each node it connects to.
    const client = this.#client as { options: RedisOptions & { redisOptions?: RedisOptions } };
    const target = client.options.redisOptions ?? client.options;
    target.username = credentials.username;
    target.password = credentials.password;
  }

  /** Whether the client is connected and ready to answer. */
  ready(): boolean {
    return this.#client.status === 'ready';
  }

  async #guard<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      throw storeError(error);
    }
  }

  /** The time at which an authentication's keys disappear: its expiry plus the grace period. */
  #removalTime(expiresAt: Date): number {
    return expiresAt.getTime() + this.#gracePeriodMs;
  }

  createAuthentication(input: NewAuthentication) {
    return this.#guard(async () => {
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
      const { extras } = input;
      const fields: Record<string, string> = {
        [FIELD.authentication]: encodeAuthentication(authentication),
        [FIELD.tokenHash]: tokenHash,
        ...(extras?.provider && { [FIELD.provider]: extras.provider }),
        ...(extras?.subject && { [FIELD.subject]: extras.subject }),
        ...(extras?.sessionId && { [FIELD.sessionId]: extras.sessionId }),
        ...(extras?.idToken && { [FIELD.idToken]: extras.idToken }),
        ...(authentication.expiresAt && {
          [FIELD.expiresAt]: String(Math.floor(authentication.expiresAt.getTime() / 1000)),
        }),
      };
      const idKey = this.#keys.id(authentication.id);
      const tokenKey = this.#keys.token(tokenHash);
      // One key per command (or per transaction): the keys sit in different cluster slots.
      const idWrite = this.#client.multi().hset(idKey, fields);
      if (authentication.expiresAt) idWrite.pexpireat(idKey, this.#removalTime(authentication.expiresAt));
      await Promise.all([
        idWrite.exec(),
        authentication.expiresAt
          ? this.#client.set(tokenKey, authentication.id, 'PXAT', this.#removalTime(authentication.expiresAt))
          : this.#client.set(tokenKey, authentication.id),
        this.#client.sadd(this.#keys.all, authentication.id),
        this.#client.sadd(this.#keys.method(authentication.method), authentication.id),
      ]);
      return { clientToken, authentication: { ...authentication, metadata: { ...authentication.metadata } } };
    });
  }

  async #hash(id: string): Promise<Record<string, string> | undefined> {
    const hash = await this.#client.hgetall(this.#keys.id(id));
    return hash[FIELD.authentication] === undefined ? undefined : hash;
  }

  getAuthenticationByClientToken(clientToken: string) {
    return this.getAuthenticationByTokenHash(hashClientToken(clientToken));
  }

  getAuthenticationByTokenHash(tokenHash: string) {
    return this.#guard(async () => {
      const tokenKey = this.#keys.token(tokenHash);
      const encoded = this.#scripted ? await this.#lookupScripted(tokenKey) : await this.#lookup(tokenKey);
      return encoded === null ? undefined : decodeAuthentication(encoded);
    });
  }

  /** Token → id → the authentication field (only: this runs on every request, and the extras may be large). */
  async #lookup(tokenKey: string): Promise<string | null> {
    const id = await this.#client.get(tokenKey);
    return id === null ? null : this.#client.hget(this.#keys.id(id), FIELD.authentication);
  }

  /**
   * The same in one round trip, as a script, on a single node (in a cluster the two keys are in different slots).
   * A server that refuses scripts (an ACL without `@scripting`, a proxy) is asked the two-step way from then on.
   */
  async #lookupScripted(tokenKey: string): Promise<string | null> {
    let found: [string, string | null] | null;
    try {
      found = await (this.#client as Redis & ScriptedCommands).portcullisLookup(
        tokenKey,
        this.#keys.id(''),
        FIELD.authentication,
      );
    } catch (error) {
      if (refusesScripts(error)) this.#scripted = false;
      else if (!isReplyError(error)) throw error;
      return this.#lookup(tokenKey);
    }
    if (found === null) return null;
    const [id, encoded] = found;
    // Nothing under the id: it has expired since, or a sharding proxy (which routes a script by its one declared
    // key) ran the script where the id's hash does not live. Asking for it directly settles which.
    return encoded ?? this.#client.hget(this.#keys.id(id), FIELD.authentication);
  }

  getAuthenticationById(id: string) {
    return this.#guard(async () => {
      const hash = await this.#hash(id);
      return hash === undefined ? undefined : decodeAuthentication(hash[FIELD.authentication] as string);
    });
  }

  getExtras(id: string) {
    return this.#guard(async () => {
      const hash = await this.#hash(id);
      return hash === undefined ? undefined : extrasOf(hash);
    });
  }

  listAuthentications(request: ListRequest): Promise<ListResult> {
    return this.#guard(async () => {
      const size = pageSize(request.limit);
      const setKey = request.method === undefined ? this.#keys.all : this.#keys.method(request.method);
      let { cursor, skip } = parsePageToken(request.pageToken);
      const authentications: Authentication[] = [];
      for (;;) {
        const [next, ids] = await this.#client.sscan(setKey, cursor, 'COUNT', size);
        const batch = ids.slice(skip);
        const hashes = await Promise.all(batch.map((id) => this.#hash(id)));
        for (const [index, hash] of hashes.entries()) {
          if (authentications.length === size) {
            return { authentications, nextPageToken: `${cursor}.${skip + index}` };
          }
          // A set member whose hash has expired is skipped, as in Flipt.
          if (hash !== undefined)
            authentications.push(decodeAuthentication(hash[FIELD.authentication] as string));
        }
        if (next === '0') return { authentications, nextPageToken: '' };
        if (authentications.length === size) return { authentications, nextPageToken: next };
        cursor = next;
        skip = 0;
      }
    });
  }

  deleteAuthentications(filter: AuthenticationFilter) {
    return this.#guard(async () => {
      assertDeletePredicate(filter);
      const candidates = filter.id !== undefined ? [filter.id] : await this.#members(filter.method);
      let deleted = 0;
      for (let start = 0; start < candidates.length; start += SCAN_BATCH) {
        const ids = candidates.slice(start, start + SCAN_BATCH);
        const hashes = await Promise.all(ids.map((id) => this.#hash(id)));
        const removals: Array<Promise<unknown>> = [];
        for (const [index, hash] of hashes.entries()) {
          const id = ids[index] as string;
          if (hash === undefined) {
            // Its keys expired; forget it in the sets too.
            if (filter.id === undefined) removals.push(this.#client.srem(this.#keys.all, id));
            continue;
          }
          const authentication = decodeAuthentication(hash[FIELD.authentication] as string);
          if (!matchesFilter(authentication, extrasOf(hash), filter)) continue;
          deleted++;
          removals.push(
            this.#client.del(this.#keys.id(id)),
            this.#client.del(this.#keys.token(hash[FIELD.tokenHash] as string)),
            this.#client.srem(this.#keys.all, id),
            this.#client.srem(this.#keys.method(authentication.method), id),
          );
        }
        await Promise.all(removals);
      }
      return deleted;
    });
  }

  async #members(method: string | undefined): Promise<string[]> {
    const setKey = method === undefined ? this.#keys.all : this.#keys.method(method);
    const members: string[] = [];
    let cursor = '0';
    do {
      const [next, ids] = await this.#client.sscan(setKey, cursor, 'COUNT', SCAN_BATCH);
      members.push(...ids);
      cursor = next;
    } while (cursor !== '0');
    return [...new Set(members)];
  }

  expireAuthentication(id: string, expiresAt: Date) {
    return this.#guard(async () => {
      const hash = await this.#hash(id);
      if (hash === undefined) throw new PortcullisError(ErrorCodes.NOT_FOUND, AUTHENTICATION_NOT_FOUND);
      const updated: Authentication = {
        ...decodeAuthentication(hash[FIELD.authentication] as string),
        expiresAt: new Date(expiresAt.getTime()),
        updatedAt: this.#now(),
      };
      const idKey = this.#keys.id(id);
      const removal = this.#removalTime(expiresAt);
      await Promise.all([
        this.#client
          .multi()
          .hset(idKey, {
            [FIELD.authentication]: encodeAuthentication(updated),
            [FIELD.expiresAt]: String(Math.floor(expiresAt.getTime() / 1000)),
          })
          .pexpireat(idKey, removal)
          .exec(),
        this.#client.pexpireat(this.#keys.token(hash[FIELD.tokenHash] as string), removal),
      ]);
    });
  }

  putChallenge(state: string, value: string, ttlMs: number) {
    return this.#guard(async () => {
      await this.#client.set(this.#keys.challenge(state), value, 'PX', Math.max(1, Math.ceil(ttlMs)));
    });
  }

  popChallenge(state: string) {
    return this.#guard(async () => (await this.#client.getdel(this.#keys.challenge(state))) ?? undefined);
  }

  async close() {
    try {
      await this.#client.quit();
    } catch {
      this.#client.disconnect();
    }
  }
}

async function tlsOptions(config: RedisStorageConfig): Promise<ConnectionOptions | undefined> {
  if (!config.require_tls) return undefined;
  const extra =
    config.ca_cert_bytes ??
    (config.ca_cert_path ? await readTextFileLimited(config.ca_cert_path, MAX_NAMED_FILE_BYTES) : undefined);
  return {
    minVersion: 'TLSv1.2',
    rejectUnauthorized: !config.insecure_skip_tls,
    // As in Flipt, a configured CA is added to the system's, not used instead of it.
    ...(extra !== undefined && { ca: [...rootCertificates, extra] }),
  };
}

/**
 * Connects to Redis as `session.storage.redis` says and returns the store once the connection is ready. Waits and
 * retries with backoff (each attempt logged) for up to `startup_timeout`, then fails with `ERR_UNAVAILABLE`. Once
 * started, the client reconnects by itself; commands issued while it is disconnected fail at once (503) rather
 * than queue.
 */
export async function openRedisStore(options: RedisStoreOptions): Promise<RedisStore> {
  const { config, log } = options;
  const { Redis, Cluster } = await import('ioredis');
  const tls = await tlsOptions(config);
  const base: RedisOptions = {
    ...(config.username && { username: config.username }),
    ...(config.password && { password: config.password }),
    connectTimeout: config.net_timeout > 0 ? config.net_timeout : DEFAULT_CONNECT_TIMEOUT_MS,
    commandTimeout: config.net_timeout > 0 ? 2 * config.net_timeout : DEFAULT_COMMAND_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    lazyConnect: true,
    connectionName: 'portcullis',
    retryStrategy: (attempt: number) => Math.min(100 * 2 ** Math.min(attempt, 10), 2_000),
    ...(tls && { tls }),
  };
  const client: Client =
    config.mode === 'cluster'
      ? new Cluster([{ host: config.host, port: config.port }], {
          redisOptions: base,
          enableOfflineQueue: false,
          enableAutoPipelining: true,
          lazyConnect: true,
          clusterRetryStrategy: base.retryStrategy as (times: number) => number,
        })
      : new Redis({
          ...base,
          host: config.host,
          port: config.port,
          db: config.db,
          enableAutoPipelining: true,
        });

  const where = `${config.host}:${config.port}`;
  let lastError = '';
  client.on('error', (error: Error) => {
    if (error.message !== lastError)
      log.warn({ store: 'redis', where, reason: error.message }, 'redis error');
    lastError = error.message;
  });
  client.on('reconnecting', (delay: number) =>
    log.info({ store: 'redis', where, delay }, 'reconnecting to redis'),
  );
  client.on('ready', () => {
    lastError = '';
    log.info({ store: 'redis', where, mode: config.mode }, 'redis is ready');
  });

  const ready = new Promise<void>((resolve) => client.once('ready', () => resolve()));
  client.connect().catch(() => undefined); // failures are retried by retryStrategy and logged above
  const timer = new Promise<'timeout'>((resolve) =>
    setTimeout(() => resolve('timeout'), config.startup_timeout).unref(),
  );
  if ((await Promise.race([ready, timer])) === 'timeout') {
    client.disconnect();
    throw new PortcullisError(
      ErrorCodes.UNAVAILABLE,
      `redis at ${where} did not become ready within ${config.startup_timeout} ms${lastError ? `: ${lastError}` : ''}`,
    );
  }
  return new RedisStore(client, {
    gracePeriodMs: options.gracePeriodMs,
    prefix: config.prefix,
    ...(options.now && { now: options.now }),
  });
}

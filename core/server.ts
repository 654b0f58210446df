import { readFile } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import {
  createServer as createHttp2Server,
  type IncomingHttpHeaders as IncomingHttp2Headers,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from 'node:http2';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { parseAllDocuments } from 'yaml';
import { type LoadedConfig, loadConfig } from './config/load.ts';
import type { RootConfig } from './config/types.ts';
import {
  ConfigError,
  ErrorCodes,
  errorMessage,
  formatIssue,
  PortcullisError,
  type SecretFailure,
  SecretResolutionError,
} from './errors.ts';
import { MAX_NAMED_FILE_BYTES, readFileLimited } from './fs/read-limited.ts';
import { HTTP2_STREAM, isGrpcContentType, respondWithStatus } from './grpc/http2-status.ts';
import { type GrpcServer, startGrpcServer } from './grpc/server.ts';
import { buildApp, httpServerOptions } from './http/app.ts';
import { wantsPage } from './http/authenticate.ts';
import { lastAnswer } from './http/client-errors.ts';
import { earlierAnswers, trackConnections } from './http/connections.ts';
import { GrpcCode, sendError } from './http/errors.ts';
import { forwardedPrefix } from './http/forwarded.ts';
import { ALPN_PROTOCOLS, acceptHttp2 } from './http/http2-split.ts';
import { portcullis } from './http/plugin.ts';
import { markRetiring } from './http/retiring.ts';
import type { Logger, SecretScrubber } from './log.ts';
import { Metrics } from './observe/metrics.ts';
import { fetchChanges, RefreshSchedule, watchReferences } from './references/refresh.ts';
import { applyValues, fetchReferences, groupReferences, type ReferenceUse } from './references/resolve.ts';
import {
  assembleRuntime,
  isUnavailable,
  loadForRuntime,
  type OpenSecretSources,
  openAudit,
  openSecretSources,
  openStore,
  type Runtime,
  type RuntimeOptions,
  resolveAtStartup,
  type SharedAudit,
  type SharedResource,
  writtenCredentials,
} from './runtime.ts';
import type { AuthenticationStore } from './store/types.ts';

/** A running `portcullis serve`. */
export interface Server {
  /** The runtime serving now (a reload or a changed secret replaces it). */
  readonly runtime: Runtime;
  /** The Fastify application serving now (replaced with the runtime). */
  readonly app: FastifyInstance;
  /** `http://host:port` (or `https://`) the server listens on. */
  readonly address: string;
  /** `host:port` of Flipt's auth services over gRPC (`server.grpc_port`; TLS as HTTP has it). */
  readonly grpcAddress: string;
  /**
   * Loads the configuration file again and, when it is valid and its secrets resolve, serves it in place of the
   * running one: requests in flight finish on the old one, the next ones get the new one. Otherwise every problem
   * is logged and the running configuration stays. Resolves to whether the new configuration was applied.
   * Listening settings (`server.*`) and `log.*` apply at the next start.
   */
  reload(): Promise<boolean>;
  /**
   * Fetches every secret reference again now (what `secrets.refresh_interval` does on its own), or those of the
   * stores named, and applies any change. Resolves once done.
   */
  refreshSecrets(providers?: ReadonlySet<string>): Promise<void>;
  /** Stops accepting connections (HTTP and gRPC), finishes in-flight requests, then closes the runtime. */
  close(): Promise<void>;
}

async function tlsMaterial(config: RootConfig): Promise<{ cert: Buffer; key: Buffer } | undefined> {
  if (config.server.protocol !== 'https') return undefined;
  try {
    return {
      cert: await readFileLimited(config.server.cert_file as string, MAX_NAMED_FILE_BYTES),
      key: await readFileLimited(config.server.cert_key as string, MAX_NAMED_FILE_BYTES),
    };
  } catch (error) {
    throw new PortcullisError(
      ErrorCodes.SERVER_START,
      `reading TLS certificate and key: ${errorMessage(error)}`,
    );
  }
}

/** What waits for each socket to close: one listener per socket, however many requests are pipelined on it. */
const waitingOnSocket = new WeakMap<Duplex, Set<() => void>>();

/** Calls `callback` when `socket` closes (at once if it has); returns a function that cancels that. */
function untilClosed(socket: Duplex, callback: () => void): () => boolean {
  if (socket.destroyed) {
    queueMicrotask(callback);
    return () => false;
  }
  let waiting = waitingOnSocket.get(socket);
  if (waiting === undefined) {
    const set = new Set<() => void>();
    waiting = set;
    waitingOnSocket.set(socket, set);
    socket.once('close', () => {
      waitingOnSocket.delete(socket);
      for (const call of set) call();
      set.clear();
    });
  }
  const set = waiting;
  set.add(callback);
  return () => set.delete(callback);
}

/** The calls one HTTP/2 connection may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS, RFC 9113 §6.5.2). */
const HTTP2_MAX_CONCURRENT_STREAMS = 250;

/** How long HTTP/2 calls under way may go on once the server is closing (as the gRPC server's stop). */
const HTTP2_GRACE_MS = 5_000;

/** Fastify's own defaults for the server it would have created (keep-alive 72 s, no request timeout). */
const KEEP_ALIVE_TIMEOUT_MS = 72_000;

/** One configuration, served: its runtime and its Fastify app, and the requests it is answering. */
interface Generation {
  readonly loaded: LoadedConfig;
  readonly uses: readonly ReferenceUse[];
  /** The value of each reference in use. */
  readonly values: ReadonlyMap<string, string>;
  /** Every credential and resolved value it uses: kept by the scrubber while it serves. */
  readonly secrets: readonly string[];
  readonly sources: OpenSecretSources;
  readonly store: SharedResource<AuthenticationStore>;
  /** Kept by the next configuration when its `audit` section is the same: what it holds is not dropped. */
  readonly audit: SharedAudit;
  readonly runtime: Runtime;
  readonly app: FastifyInstance;
  /** Fastify's request handler. */
  readonly handle: (request: IncomingMessage, response: ServerResponse) => void;
  /** The object the app's listeners are attached to (`upgrade`, `clientError`, ...): never listening itself. */
  readonly events: ReturnType<typeof createHttpServer>;
  inFlight: number;
  onIdle?: () => void;
}

/**
 * Counts a request (or an HTTP/2 call) in flight on `generation`; returns what counts it out, once however often it
 * is called (then `andThen`), telling the generation when it was the last.
 */
function inFlight(generation: Generation, andThen?: () => void): () => void {
  generation.inFlight += 1;
  let counted = true;
  return () => {
    if (!counted) return;
    counted = false;
    andThen?.();
    generation.inFlight -= 1;
    if (generation.inFlight === 0) generation.onIdle?.();
  };
}

/** What a reload or a refresh builds a generation from. */
interface GenerationInput {
  readonly loaded: LoadedConfig;
  readonly values: ReadonlyMap<string, string>;
  /** Held by the new generation (acquired for it). */
  readonly sources: OpenSecretSources;
}

/**
 * What decides whether a new configuration can keep the running store: a memory store is always kept (replacing
 * it would lose every session; a changed cleanup applies at the next start), a Redis store when its settings but
 * the credentials are the same.
 */
const storeIdentity = (config: RootConfig) => {
  const { storage } = config.authentication.session;
  if (storage.type === 'memory') return 'memory';
  const { username: _username, password: _password, ...redis } = storage.redis;
  return JSON.stringify({ type: storage.type, redis, cleanup: storage.cleanup });
};

const credentialsOf = (config: RootConfig) => {
  const { username, password } = config.authentication.session.storage.redis;
  return { username, password };
};

/** The settings a running server cannot change (where and how it listens, how it logs) that `next` changes. */
function changedSettings(running: RootConfig, next: RootConfig): string[] {
  const changed: string[] = [];
  for (const section of ['server', 'log'] as const) {
    const before = running[section] as Record<string, unknown>;
    const after = next[section] as Record<string, unknown>;
    for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
      if (JSON.stringify(before[key]) !== JSON.stringify(after[key])) changed.push(`${section}.${key}`);
    }
  }
  return changed;
}

/**
 * Whether a configuration file says nothing: blank, comments and document markers only, or a document that is null
 * (`~`) or an empty mapping (`{}`). At start-up that means Flipt's defaults; on a reload it is a file caught empty.
 */
function isEmptyDocument(text: string): boolean {
  // Every document of the file: Helm and kustomize write empty `---` documents.
  return parseAllDocuments(text).every((document) => {
    if (document.errors.length > 0) return false;
    const value: unknown = document.toJS();
    if (value === null || value === undefined) return true;
    return typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length === 0;
  });
}

/** How long shutdown waits for a reload or a refresh still building (a store waiting for Redis) before going on. */
const BUILD_WAIT_AT_SHUTDOWN_MS = 5_000;

class Supervisor {
  readonly #options: RuntimeOptions;
  readonly #log: Logger;
  readonly #scrubber: SecretScrubber;
  readonly #createTimeoutMs: number | undefined;
  #current!: Generation;
  readonly #retiring = new Set<Promise<void>>();
  /** Replaced generations not closed yet (waiting for their last request). */
  readonly #replaced = new Set<Generation>();
  readonly #tunnels = new Set<Duplex>();
  readonly #http2Sessions = new Set<ServerHttp2Session>();
  /** One set of metrics for every configuration this server runs: a reload does not restart the counters. */
  readonly #metrics = new Metrics();
  /** Their sockets: a session closed gracefully and then destroyed may leave its socket open (Node 22). */
  readonly #http2Sockets = new Set<Duplex>();
  #queue: Promise<unknown> = Promise.resolve();
  #schedule: RefreshSchedule | undefined;
  #unwatch: (() => void) | undefined;
  #shuttingDown = false;
  /** Aborted when shutting down: cancels the fetches of a refresh or a reload. */
  readonly #stopping = new AbortController();
  #pendingReload: Promise<boolean> | undefined;
  /** The new value of each reference the configuration could not start with (kept pending), by reference. */
  readonly #refused = new Map<string, string>();
  /** The configuration the server started with: its listening and logging settings are the ones in force. */
  #startedWith!: RootConfig;
  readonly server: ReturnType<typeof createHttpServer>;

  constructor(
    options: RuntimeOptions,
    log: Logger,
    scrubber: SecretScrubber,
    https: { cert: Buffer; key: Buffer } | undefined,
  ) {
    this.#options = options;
    this.#log = log;
    this.#scrubber = scrubber;
    this.#createTimeoutMs = options.pluginCreateTimeoutMs;
    const http = httpServerOptions(() => this.#current.events.listenerCount('upgrade') > 0);
    const server =
      https === undefined
        ? createHttpServer(http)
        : createHttpsServer({ ...http, ...https, ALPNProtocols: ALPN_PROTOCOLS });
    server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
    server.requestTimeout = 0;
    // gRPC calls for a gRPC upstream come on the same port over HTTP/2 (h2c with prior knowledge, or ALPN h2).
    // At most 250 calls at once on one connection (Go's HTTP/2 server's default): one client cannot open calls
    // without bound, nor hold every upstream connection.
    const http2 = createHttp2Server({ settings: { maxConcurrentStreams: HTTP2_MAX_CONCURRENT_STREAMS } });
    acceptHttp2(server, https !== undefined, (socket) => {
      this.#http2Sockets.add(socket);
      socket.once('close', () => this.#http2Sockets.delete(socket));
      http2.emit('connection', socket);
    });
    http2.on('session', (session: ServerHttp2Session) => {
      this.#http2Sessions.add(session);
      session.once('close', () => this.#http2Sessions.delete(session));
      // A broken frame ends that one connection; the session reports it here rather than to the process.
      session.on('error', () => session.destroy());
      if (this.#shuttingDown) session.close();
    });
    http2.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttp2Headers) =>
      this.#http2Stream(stream, headers),
    );
    // Each connection's address and its answers' order are followed from the moment it opens, whichever
    // configuration then answers its requests.
    trackConnections(server);
    server.on('request', (request: IncomingMessage, response: ServerResponse) => {
      const generation = this.#current;
      let forget = () => false;
      const done = inFlight(generation, () => forget());
      // A response Node never attached to its socket (pipelined behind an answer that closed the connection, or a
      // client gone first) never closes: its connection's end counts it out instead.
      // `on`, not `once`: a response closes once, and `done` counts once however often it is called; `once` would
      // wrap it and unhook it on every request.
      response.on('close', done);
      forget = untilClosed(request.socket, done);
      generation.handle(request, response);
    });
    server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (this.#shuttingDown) {
        // Past the tunnel sweep, a new tunnel would hold the shutdown open for as long as its client likes.
        void earlierAnswers(socket).then(() =>
          lastAnswer(socket, {
            status: 503,
            code: GrpcCode.UNAVAILABLE,
            message: 'the server is shutting down',
          }),
        );
        return;
      }
      this.#tunnels.add(socket);
      socket.once('close', () => this.#tunnels.delete(socket));
      this.#current.events.emit('upgrade', request, socket, head);
    });
    for (const event of ['clientError', 'connect', 'checkExpectation'] as const) {
      server.on(event, (...args: unknown[]) => this.#current.events.emit(event, ...args));
    }
    this.server = server as ReturnType<typeof createHttpServer>;
  }

  /**
   * One HTTP/2 stream: a gRPC call goes to the gateway for gRPC upstreams of the configuration in force (counted as
   * a request in flight, so a reload waits for it); anything else over HTTP/2 is refused, as HTTP/2 is taken here
   * only for gRPC.
   */
  #http2Stream(stream: ServerHttp2Stream, headers: IncomingHttp2Headers): void {
    stream.on('error', () => stream.destroy());
    if (!isGrpcContentType(headers['content-type'])) {
      stream.respond({ ':status': 505, 'content-type': 'text/plain; charset=utf-8' });
      stream.end('HTTP/2 is taken here for gRPC calls only (content-type application/grpc); use HTTP/1.1\n');
      return;
    }
    if (this.#shuttingDown) {
      respondWithStatus(stream, GrpcCode.UNAVAILABLE, 'the server is shutting down');
      return;
    }
    const generation = this.#current;
    if (generation.events.listenerCount(HTTP2_STREAM) === 0) {
      respondWithStatus(
        stream,
        GrpcCode.UNIMPLEMENTED,
        'no gRPC upstream: gateway.upstream is not set (the flipt.auth services are on server.grpc_port)',
      );
      return;
    }
    stream.once('close', inFlight(generation));
    generation.events.emit(HTTP2_STREAM, stream, headers);
  }

  get current(): Generation {
    return this.#current;
  }

  /** Builds and serves the first configuration. */
  async start(loaded: LoadedConfig): Promise<void> {
    const sources = await openSecretSources(loaded, this.#log, {
      ...(this.#createTimeoutMs !== undefined && { createTimeoutMs: this.#createTimeoutMs }),
      retryForMs: loaded.config.secrets.startup_timeout,
    });
    try {
      const resolution = await resolveAtStartup(loaded, sources, this.#log, this.#metrics);
      this.#scrubber.add(resolution.values);
      this.#current = await this.#build({ loaded, values: resolution.byReference, sources }, undefined);
      this.#startedWith = this.#current.runtime.config;
      this.#scrubber.keep(this.#current.secrets);
    } finally {
      await sources.release();
    }
    this.#watch();
  }

  /** Builds a generation: the store is kept from `previous` when its settings (apart from credentials) are the same. */
  async #build(input: GenerationInput, previous: Generation | undefined): Promise<Generation> {
    const { loaded, values, sources } = input;
    const uses = groupReferences(loaded.references);
    const config = applyValues(loaded.config, uses, values);
    const secrets = [...writtenCredentials(loaded), ...values.values()];
    this.#scrubber.add(secrets);
    let store: SharedResource<AuthenticationStore>;
    /** Puts back the running store's credentials when this configuration, which changed them, does not start. */
    let restoreCredentials: () => void = () => undefined;
    if (previous !== undefined && storeIdentity(previous.runtime.config) === storeIdentity(config)) {
      store = previous.store.acquire();
      const credentials = credentialsOf(config);
      const before = credentialsOf(previous.runtime.config);
      if (JSON.stringify(credentials) !== JSON.stringify(before)) {
        const shared = store.value;
        shared.setCredentials?.(credentials);
        restoreCredentials = () => shared.setCredentials?.(before);
      }
    } else {
      store = await openStore(config, this.#log, this.#metrics);
    }
    const sameAudit =
      previous !== undefined &&
      JSON.stringify(previous.runtime.config.audit) === JSON.stringify(config.audit);
    const audit = sameAudit ? previous.audit.acquire() : openAudit(config, this.#log, this.#metrics);
    let runtime: Runtime;
    try {
      runtime = await assembleRuntime({
        loaded,
        config,
        log: this.#log,
        scrubber: this.#scrubber,
        sources: sources.acquire(),
        store: store.acquire(),
        audit: audit.acquire(),
        metrics: this.#metrics,
        ...(this.#createTimeoutMs !== undefined && { createTimeoutMs: this.#createTimeoutMs }),
      });
    } catch (error) {
      // Unless the store could not be reached: then the old credentials fail as well, and the new may be the fix.
      if (!isUnavailable(error)) restoreCredentials();
      throw error;
    } finally {
      // The runtime holds the store and the audit stream now (or has let go of them); these shares were for
      // building it.
      await store.release();
      await audit.release();
    }
    let handle: Generation['handle'] | undefined;
    const events = createHttpServer();
    let app: FastifyInstance | undefined;
    try {
      app = buildApp({
        log: this.#log,
        storeReady: () => runtime.store.ready?.() ?? true,
        serverFactory: (handler) => {
          handle = handler;
          return events;
        },
        shuttingDown: () => this.#shuttingDown,
      });
      await app.register(portcullis, { runtime, ui: true, metrics: true });
      // Without an upstream, `/` is nothing of ours: a browser sent there (Flipt's end of a login, a provider's
      // post-logout redirect to redirect_address) is better off on the web UI than on a 404. Other clients keep it.
      if (
        runtime.config.gateway.upstream === undefined &&
        app.hasRoute({ method: 'GET', url: '/auth/ui/login' })
      ) {
        app.get('/', { config: { authenticate: false } }, (request, reply) => {
          reply.header('vary', 'Accept');
          if (!wantsPage(request.headers)) return sendError(reply, GrpcCode.NOT_FOUND, 'Not Found');
          const prefix = forwardedPrefix(request.headers['x-forwarded-prefix']);
          return reply.code(302).header('location', `${prefix}/auth/ui/`).send();
        });
      }
      await app.ready();
    } catch (error) {
      if (!isUnavailable(error)) restoreCredentials();
      await app?.close().catch(() => undefined);
      await runtime.close();
      throw error;
    }
    return {
      loaded,
      uses,
      values,
      secrets,
      sources,
      store,
      audit,
      runtime,
      app,
      handle: handle as Generation['handle'],
      events,
      inFlight: 0,
    };
  }

  /** Serves `next` from now on; the generation it replaces closes once its last request is answered. */
  #swap(next: Generation): void {
    const previous = this.#current;
    this.#current = next;
    this.#scrubber.keep(next.secrets);
    // The configuration changed: a value it could not start with before may start with it now.
    this.#refused.clear();
    this.#watch();
    this.#replaced.add(previous);
    const idle =
      previous.inFlight === 0
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            previous.onIdle = resolve;
          });
    const retired = idle
      .then(async () => {
        markRetiring(previous.app);
        await previous.app.close();
        await previous.runtime.close();
      })
      .catch((error: unknown) => {
        this.#log.warn({ reason: errorMessage(error) }, 'closing the replaced configuration failed');
      })
      .finally(() => {
        this.#retiring.delete(retired);
        this.#replaced.delete(previous);
      });
    this.#retiring.add(retired);
  }

  /** Closes a generation built while the server began shutting down: it never served. */
  async #discard(generation: Generation): Promise<void> {
    await generation.app.close().catch(() => undefined);
    await generation.runtime.close();
  }

  /** (Re)subscribes the refresh to the references of the configuration serving now. */
  #watch(): void {
    const { secrets } = this.#current.loaded.config;
    this.#unwatch?.();
    this.#unwatch = undefined;
    if (this.#schedule?.intervalMs !== secrets.refresh_interval) {
      // A reload may change the interval, or set or clear it. (A refresh in progress finishes on its own.)
      void this.#schedule?.stop();
      this.#schedule = undefined;
    }
    if (secrets.refresh_interval <= 0 || this.#shuttingDown) return;
    this.#schedule ??= new RefreshSchedule(secrets.refresh_interval, (providers) =>
      this.refreshSecrets(providers),
    );
    const { uses, sources } = this.#current;
    const schedule = this.#schedule;
    this.#unwatch = watchReferences(uses, sources.value, (provider) => schedule.trigger(provider), this.#log);
  }

  /** Runs `task` after those queued before it: reloads and refreshes never overlap. */
  #serialized<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(task);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  refreshSecrets(providers?: ReadonlySet<string>): Promise<void> {
    return this.#serialized(async () => {
      if (this.#shuttingDown) return;
      const current = this.#current;
      const uses =
        providers === undefined
          ? current.uses
          : current.uses.filter(({ reference }) => providers.has(reference.provider));
      const { values, changed } = await fetchChanges(
        { uses, sources: current.sources.value, values: current.values },
        {
          timeoutMs: current.loaded.config.secrets.fetch_timeout,
          metrics: this.#metrics,
          log: this.#log,
          signal: this.#stopping.signal,
        },
      );
      // A new value the configuration could not start with is not tried (nor logged) again until it changes.
      const fresh = changed.filter(
        ({ reference }) => this.#refused.get(reference.raw) !== values.get(reference.raw),
      );
      if (fresh.length === 0 || this.#shuttingDown) return;
      this.#scrubber.add(fresh.map(({ reference }) => values.get(reference.raw) as string));
      const built = await this.#buildWithChanges(
        { loaded: current.loaded, sources: current.sources, base: current.values, values, changed: fresh },
        current,
      );
      if (built === undefined) return;
      if (this.#shuttingDown) return void (await this.#discard(built.next));
      this.#swap(built.next);
      this.#logChanges(built.applied);
    });
  }

  /**
   * A configuration with `changed` applied on top of `base` (their new values in `values`). When it cannot start
   * with all of them, each change is tried on its own, so that one broken secret does not hold back the others (a
   * revoked static token among them); each that cannot start is logged, naming it, and left at its `base` value.
   * `undefined` when no change could be applied (the caller keeps, or builds, `base`).
   */
  async #buildWithChanges(
    input: {
      readonly loaded: LoadedConfig;
      readonly sources: OpenSecretSources;
      readonly base: ReadonlyMap<string, string>;
      readonly values: ReadonlyMap<string, string>;
      readonly changed: readonly ReferenceUse[];
      /** Known to fail with every change at once (a reload tried it): go straight to one at a time. */
      readonly allFailed?: unknown;
    },
    previous: Generation,
  ): Promise<{ next: Generation; applied: readonly ReferenceUse[] } | undefined> {
    const { loaded, sources, values, changed } = input;
    const build = (candidate: ReadonlyMap<string, string>) =>
      this.#build({ loaded, values: candidate, sources }, previous);
    const withChange = (base: ReadonlyMap<string, string>, use: ReferenceUse) =>
      new Map(base).set(use.reference.raw, values.get(use.reference.raw) as string);
    const refused = (use: ReferenceUse, error: unknown) => {
      // Not tried again until it, or the configuration, changes, unless what failed may heal (Redis refusing for
      // now): then at the next tick.
      if (!isUnavailable(error))
        this.#refused.set(use.reference.raw, values.get(use.reference.raw) as string);
      this.#log.error(
        {
          reference: use.reference.raw,
          provider: use.reference.provider,
          reason: errorMessage(this.#scrubber.scrubError(error)),
        },
        'a secret changed but the configuration could not start with its new value; the previous value stays in use',
      );
    };
    let allFailed = input.allFailed;
    if (allFailed === undefined) {
      try {
        return { next: await build(changed.reduce(withChange, input.base)), applied: changed };
      } catch (error) {
        allFailed = error;
      }
    }
    if (changed.length === 1) {
      refused(changed[0] as ReferenceUse, allFailed);
      return undefined;
    }
    let next: Generation | undefined;
    let base: ReadonlyMap<string, string> = input.base;
    const applied: ReferenceUse[] = [];
    for (const use of changed) {
      const candidate = withChange(base, use);
      try {
        const built = await build(candidate);
        if (next !== undefined) await this.#discard(next);
        next = built;
        base = candidate;
        applied.push(use);
      } catch (error) {
        refused(use, error);
      }
    }
    return next === undefined ? undefined : { next, applied };
  }

  #logChanges(changed: readonly ReferenceUse[]): void {
    for (const { reference, paths } of changed) {
      this.#refused.delete(reference.raw);
      this.#log.info(
        {
          reference: reference.raw,
          provider: reference.provider,
          paths: paths.map((path) => path.join('.')),
        },
        'secret changed; now in use',
      );
    }
  }

  reload(): Promise<boolean> {
    // Signals in a burst (an editor saving twice, a deployment tool) make one reload of the file as it is then.
    this.#pendingReload ??= this.#serialized(async () => {
      this.#pendingReload = undefined;
      return this.#reload();
    });
    return this.#pendingReload;
  }

  async #reload(): Promise<boolean> {
    if (this.#shuttingDown) return false;
    const refuse = (lines: readonly string[]) => {
      for (const line of lines) this.#log.error(line);
      this.#log.error('configuration reload refused; the running configuration stays');
      return false;
    };
    let loaded: LoadedConfig;
    try {
      loaded = await loadConfig(this.#options);
      if (loaded.file !== undefined && isEmptyDocument(await readFile(loaded.file, 'utf8'))) {
        return refuse([
          `${loaded.file} is empty: a reload needs the whole file (an empty one would set every setting to its default)`,
        ]);
      }
    } catch (error) {
      if (error instanceof ConfigError) return refuse(error.issues.map(formatIssue));
      return refuse([errorMessage(error)]);
    }
    for (const warning of loaded.warnings) this.#log.warn(formatIssue(warning));
    this.#scrubber.add(writtenCredentials(loaded));
    const current = this.#current;
    const fixed = changedSettings(this.#startedWith, loaded.config);
    if (fixed.length > 0) {
      this.#log.warn(
        { settings: fixed },
        'these settings apply at the next start; the running server keeps the values it started with',
      );
    }
    if (current.runtime.config.authentication.required && !loaded.config.authentication.required) {
      this.#log.warn(
        'authentication.required changes from true to false: requests are no longer authenticated',
      );
    }
    const sameStores =
      JSON.stringify(loaded.config.secrets.providers) ===
      JSON.stringify(current.loaded.config.secrets.providers);
    let sources: OpenSecretSources;
    try {
      sources = sameStores
        ? current.sources.acquire()
        : await openSecretSources(loaded, this.#log, {
            ...(this.#createTimeoutMs !== undefined && { createTimeoutMs: this.#createTimeoutMs }),
            signal: this.#stopping.signal,
          });
    } catch (error) {
      return refuse([`opening the secret stores: ${errorMessage(this.#scrubber.scrubError(error))}`]);
    }
    try {
      const uses = groupReferences(loaded.references);
      const outcomes = await fetchReferences(uses, sources.value, {
        metrics: this.#metrics,
        timeoutMs: loaded.config.secrets.fetch_timeout,
        signal: this.#stopping.signal,
      });
      const values = new Map<string, string>();
      const failures: SecretFailure[] = [];
      for (const use of uses) {
        const { raw, provider } = use.reference;
        const outcome = outcomes.get(raw);
        const lastGood = current.values.get(raw);
        // A reference the running configuration resolved, from a store whose settings did not change, keeps its
        // last good value when the store cannot answer now (or answers empty): an outage must not block an edit.
        const keepsLastGood =
          lastGood !== undefined &&
          JSON.stringify(loaded.config.secrets.providers[provider]) ===
            JSON.stringify(current.loaded.config.secrets.providers[provider]);
        if (outcome?.ok && !(outcome.value === '' && lastGood !== undefined && lastGood !== '')) {
          values.set(raw, outcome.value);
        } else if (keepsLastGood) {
          values.set(raw, lastGood);
          this.#log.warn(
            {
              reference: raw,
              provider,
              reason: outcome?.ok === false ? outcome.failure.message : 'the value is empty',
            },
            'secret not fetched on reload; the last good value stays in use',
          );
        } else if (outcome?.ok === false) {
          failures.push(outcome.failure);
        } else if (outcome?.ok) {
          values.set(raw, outcome.value);
        }
      }
      if (failures.length > 0) return refuse(new SecretResolutionError(failures).message.split('\n'));
      this.#scrubber.add(values.values());
      let next: Generation;
      try {
        next = await this.#build({ loaded, values, sources }, current);
      } catch (error) {
        // A secret that changed in its store may be what the configuration cannot start with (a rotation gone
        // wrong, which a refresh keeps pending): the edit is applied with the rotations that can start, each that
        // cannot kept at its last good value and named.
        const rotated = uses.filter(({ reference }) => {
          const before = current.values.get(reference.raw);
          return before !== undefined && before !== values.get(reference.raw);
        });
        if (rotated.length === 0) return refuse([errorMessage(this.#scrubber.scrubError(error))]);
        const base = new Map(values);
        for (const { reference } of rotated)
          base.set(reference.raw, current.values.get(reference.raw) as string);
        // First the edit with the last good values: if it cannot start so, the edit is at fault, not a secret.
        let edited: Generation;
        try {
          edited = await this.#build({ loaded, values: base, sources }, current);
        } catch (editError) {
          // This failure is the edit's own (the one with the new values may be a rotated secret's).
          return refuse([errorMessage(this.#scrubber.scrubError(editError))]);
        }
        const partial = await this.#buildWithChanges(
          { loaded, sources, base, values, changed: rotated, allFailed: error },
          current,
        );
        let kept: ReadonlyMap<string, string> = base;
        if (partial === undefined) {
          next = edited;
        } else {
          await this.#discard(edited);
          next = partial.next;
          kept = partial.next.values;
        }
        for (const [raw, value] of kept) values.set(raw, value);
      }
      if (this.#shuttingDown) {
        await this.#discard(next);
        return false;
      }
      this.#swap(next);
      this.#logChanges(
        uses.filter(({ reference }) => {
          const before = current.values.get(reference.raw);
          return before !== undefined && before !== values.get(reference.raw);
        }),
      );
      this.#log.info(
        { file: loaded.file, methods: [...next.runtime.methods.keys()] },
        'configuration reloaded',
      );
      return true;
    } finally {
      await sources.release();
    }
  }

  async close(): Promise<void> {
    this.#shuttingDown = true;
    this.#stopping.abort();
    this.#unwatch?.();
    void this.#schedule?.stop();
    // Stop listening first: a reload or a refresh still building is discarded when it ends.
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    // Node closes the connections idle when closing starts; one busy then (a request inside a slow method) goes
    // idle once answered and, kept alive by its client, would hold the close open for good. Swept until closed.
    const sweep = setInterval(() => this.server.closeIdleConnections(), 50);
    sweep.unref();
    this.server.closeIdleConnections();
    for (const socket of this.#tunnels) socket.destroy();
    // HTTP/2 connections are told to go (GOAWAY); the calls under way get the grace a gRPC server's stop gives.
    for (const session of this.#http2Sessions) session.close();
    const http2Grace = setTimeout(() => {
      for (const socket of this.#http2Sockets) socket.destroy();
    }, HTTP2_GRACE_MS);
    http2Grace.unref();
    // Fetches were cancelled; a build in progress (a store waiting for Redis) is waited for a while, not for ever.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.#queue,
      new Promise((resolve) => {
        timer = setTimeout(resolve, BUILD_WAIT_AT_SHUTDOWN_MS);
      }),
    ]);
    clearTimeout(timer);
    await closed;
    clearInterval(sweep);
    clearTimeout(http2Grace);
    // No connection is left, so no request either: every replaced configuration may close now.
    for (const generation of this.#replaced) generation.onIdle?.();
    const current = this.#current;
    await current.app.close();
    await current.runtime.close();
    await Promise.all(this.#retiring);
    await this.#log.flush();
  }
}

function origin(protocol: 'http' | 'https', address: AddressInfo): string {
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `${protocol}://${host}:${address.port}`;
}

/**
 * `portcullis serve`: creates the runtime and serves it, with `/health`, on `server.host` and the port of
 * `server.protocol`. With `secrets.refresh_interval`, every secret reference is fetched again at that interval
 * (and watched where its store can), and a change is applied without a restart; {@link Server.reload} applies an
 * edited configuration file. Any failure at start undoes what was started and rejects with a coded error.
 */
export async function startServer(options: RuntimeOptions = {}): Promise<Server> {
  const { loaded, log, scrubber } = await loadForRuntime(options);
  let supervisor: Supervisor | undefined;
  let grpcServer: GrpcServer | undefined;
  try {
    const { config } = loaded;
    const https = await tlsMaterial(config);
    supervisor = new Supervisor(options, log, scrubber, https);
    await supervisor.start(loaded);
    const port = https === undefined ? config.server.http_port : config.server.https_port;
    const { server } = supervisor;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: config.server.host, port }, () => {
        server.off('error', reject);
        resolve();
      });
    }).catch((error: unknown) => {
      throw new PortcullisError(
        ErrorCodes.SERVER_START,
        `listening on ${config.server.host}:${port}: ${errorMessage(error)}`,
      );
    });
    const address = origin(config.server.protocol, server.address() as AddressInfo);
    const started = supervisor;
    const { host, grpc_port: grpcPort } = config.server;
    const grpc = await startGrpcServer({
      host,
      port: grpcPort,
      ...(https !== undefined && { tls: https }),
      current: () => started.current,
      connections: {
        maxIdleMs: config.server.grpc_conn_max_idle_time,
        maxAgeMs: config.server.grpc_conn_max_age,
        maxAgeGraceMs: config.server.grpc_conn_max_age_grace,
      },
    }).catch((error: unknown) => {
      throw new PortcullisError(
        ErrorCodes.SERVER_START,
        `listening on ${host}:${grpcPort} (gRPC, server.grpc_port): ${errorMessage(error)}`,
      );
    });
    grpcServer = grpc;
    log.info(
      { address, methods: [...started.current.runtime.methods.keys()], grpc: grpc.address },
      'portcullis is listening',
    );

    let closing: Promise<void> | undefined;
    return {
      get runtime() {
        return started.current.runtime;
      },
      get app() {
        return started.current.app;
      },
      address,
      grpcAddress: grpc.address,
      reload: () => started.reload(),
      refreshSecrets: (providers) => started.refreshSecrets(providers),
      close() {
        // Both stop taking calls at once; gRPC calls in flight get up to the grace of a stop (5 s).
        closing ??= (async () => {
          const stopped = grpc.close();
          await started.close();
          await stopped;
        })();
        return closing;
      },
    };
  } catch (error) {
    await grpcServer?.close(0);
    if (supervisor?.current !== undefined) await supervisor.close().catch(() => undefined);
    else await log.flush();
    throw scrubber.scrubError(error);
  }
}

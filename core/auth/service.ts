import { ErrorCodes, errorMessage, PortcullisError } from '../errors.ts';
import { actorOf, type Client, clientActor } from '../observe/client.ts';
import type { Authentication, JsonValue } from '../plugins/contracts.ts';
import { guard, guardSync } from '../plugins/guard.ts';
import type { Runtime } from '../runtime.ts';
import { AUTHENTICATION_NOT_FOUND } from '../store/shared.ts';
import type { ListResult } from '../store/types.ts';

/** A method as `ListAuthenticationMethods` answers it (Flipt's `MethodInfo`). */
export interface MethodListing {
  readonly method: string;
  readonly enabled: boolean;
  readonly sessionCompatible: boolean;
  /** The plugin's `info()`, a JSON object, when it gave one. */
  readonly metadata?: JsonValue;
}

/** What `ListAuthentications` asks. */
export interface ListQuery {
  /** A method's enum name or its number in Flipt's enum (`METHOD_NONE` / `0` / absent: all). */
  readonly method?: string | number;
  readonly limit?: number;
  readonly pageToken?: string;
}

/**
 * Flipt's `PublicAuthenticationService` and `AuthenticationService`, once, for every transport: the HTTP API
 * (`/auth/v1`), the gRPC services and the web UI all answer from here, so a rule lives in one place. Errors are
 * {@link PortcullisError}s with the code a transport maps (`NOT_FOUND`, `INVALID_ARGUMENT`, `UNAVAILABLE` from the
 * store). Source: Flipt's `internal/server/authn/server.go`.
 */
export interface AuthService {
  /**
   * Whether `AuthenticationService` is served: with no method enabled and `authentication.required` false Flipt
   * registers only the public service, and every other call is `UNIMPLEMENTED`.
   */
  readonly enabled: boolean;
  /**
   * Whether a session-compatible method runs: browsers can sign in (the web UI runs, and the methods' listed URLs
   * carry the forwarded prefix).
   */
  readonly sessionEnabled: boolean;
  /** Every registered method in registry order; `prefix` is the forwarded prefix for the URLs in `metadata`. */
  listMethods(prefix: string): Promise<{ methods: MethodListing[] }>;
  /**
   * `ExpireAuthenticationSelf`: `expiresAt` absent means now. `client` (who asked, from where) is the actor of the
   * `authentication:expired` audit event; so for the two below.
   */
  expireSelf(who: Authentication, expiresAt: Date | undefined, client?: Client): Promise<void>;
  /** Deletes the caller's own session, and asks its method where the browser should go to end it at the provider. */
  revokeSelf(who: Authentication, client?: Client): Promise<{ nextUri?: string }>;
  listAuthentications(query: ListQuery): Promise<ListResult>;
  /** @throws PortcullisError `NOT_FOUND` ("authentication not found") */
  getAuthentication(id: string): Promise<Authentication>;
  /** Deleting an id that does not exist succeeds, as in Flipt. */
  deleteAuthentication(id: string, client?: Client): Promise<void>;
}

const services = new WeakMap<Runtime, AuthService>();

/** The {@link AuthService} of a runtime (one per runtime). */
export function authService(runtime: Runtime): AuthService {
  let service = services.get(runtime);
  if (service === undefined) {
    service = createAuthService(runtime);
    services.set(runtime, service);
  }
  return service;
}

function createAuthService(runtime: Runtime): AuthService {
  const warned = new Set<string>();

  /**
   * A method's `info()`, when it is a JSON object; a hook that throws or answers anything else leaves its method
   * listed without metadata (the rest of the list must still be answered), and the operator is told once.
   */
  function methodMetadata(name: string, info: () => unknown): JsonValue | undefined {
    let metadata: unknown;
    let problem: string | undefined;
    try {
      metadata = guardSync(name, 'info', info);
    } catch (error) {
      problem = errorMessage(error);
    }
    if (problem === undefined && metadata !== undefined) {
      const isObject = typeof metadata === 'object' && metadata !== null && !Array.isArray(metadata);
      let json: string | undefined;
      try {
        json = isObject ? JSON.stringify(metadata) : undefined;
      } catch {
        json = undefined;
      }
      if (json === undefined) problem = `plugin "${name}": info must answer a JSON object or undefined`;
      else return JSON.parse(json) as JsonValue;
    }
    if (problem !== undefined && !warned.has(name)) {
      warned.add(name);
      runtime.log.warn({ plugin: name }, `${problem}; the method is listed without metadata (said once)`);
    }
    return undefined;
  }

  /** The method filter: every registered method counts, enabled or not. */
  async function methodFilter(raw: string | number | undefined): Promise<string | undefined> {
    if (raw === undefined || raw === '') return undefined;
    const text = String(raw);
    const numeric = /^\d+$/.test(text) ? Number(text) : undefined;
    if (text === 'METHOD_NONE' || numeric === 0) return undefined;
    for (const entry of runtime.registry.entries('method')) {
      const plugin = await runtime.registry.method(entry.name);
      if (plugin.method === text || (numeric !== undefined && plugin.methodNumber === numeric))
        return plugin.method;
    }
    throw new PortcullisError(ErrorCodes.INVALID_ARGUMENT, `invalid value "${text}" for method`);
  }

  /**
   * Asks the method that created a session where the browser should go to end it at the provider too (OIDC's
   * `end_session_endpoint`). As in Flipt, a failure is only logged: the session is deleted all the same.
   */
  async function endSessionAtProvider(who: Authentication): Promise<string | undefined> {
    const creator = [...runtime.methods.values()].find((m) => m.plugin.method === who.method);
    const endSession = creator?.instance.endSession;
    if (creator === undefined || endSession === undefined) return undefined;
    try {
      const facts = (await runtime.store.getExtras(who.id)) ?? {};
      return await guard(creator.name, 'endSession', () => endSession.call(creator.instance, who, facts));
    } catch (error) {
      runtime.log.warn(
        { plugin: creator.name, reason: errorMessage(error) },
        'could not end the session at its provider',
      );
      return undefined;
    }
  }

  return {
    enabled: runtime.config.authentication.required || runtime.methods.size > 0,
    sessionEnabled: [...runtime.methods.values()].some((method) => method.plugin.sessionCompatible),

    async listMethods(prefix) {
      const methods: MethodListing[] = [];
      for (const entry of runtime.registry.entries('method')) {
        const plugin = await runtime.registry.method(entry.name);
        const block = runtime.config.authentication.methods[entry.name] ?? { enabled: false };
        const metadata = methodMetadata(entry.name, () => plugin.info?.(block, { prefix }));
        methods.push({
          method: plugin.method,
          enabled: block.enabled === true,
          sessionCompatible: plugin.sessionCompatible,
          ...(metadata !== undefined && { metadata }),
        });
      }
      return { methods };
    },

    async expireSelf(who, expiresAt, client) {
      if (who.id === '') throw new PortcullisError(ErrorCodes.NOT_FOUND, AUTHENTICATION_NOT_FOUND);
      const at = expiresAt ?? new Date();
      await runtime.store.expireAuthentication(who.id, at);
      if (runtime.audit.wants('authentication', 'expired')) {
        runtime.audit.record({
          type: 'authentication',
          action: 'expired',
          status: 'success',
          actor: actorOf(who, client?.ip),
          payload: { id: who.id, method: who.method, expiresAt: at.toISOString() },
        });
      }
    },

    async revokeSelf(who, client) {
      if (who.id === '') return {};
      const nextUri = await endSessionAtProvider(who);
      const ended = await runtime.store.deleteAuthentications({ id: who.id });
      // A static token has nothing to delete, and stays valid: no session ended, nothing to record.
      if (ended > 0 && runtime.audit.wants('logout', 'self')) {
        runtime.audit.record({
          type: 'logout',
          action: 'self',
          status: 'success',
          actor: actorOf(who, client?.ip),
          payload: { id: who.id, method: who.method, endedAtProvider: nextUri !== undefined },
        });
      }
      return nextUri === undefined ? {} : { nextUri };
    },

    async listAuthentications(query) {
      const method = await methodFilter(query.method);
      return runtime.store.listAuthentications({
        ...(method !== undefined && { method }),
        ...(query.limit !== undefined && { limit: query.limit }),
        ...(query.pageToken !== undefined && { pageToken: query.pageToken }),
      });
    },

    async getAuthentication(id) {
      const found = await runtime.store.getAuthenticationById(id);
      if (found === undefined) throw new PortcullisError(ErrorCodes.NOT_FOUND, AUTHENTICATION_NOT_FOUND);
      return found;
    },

    async deleteAuthentication(id, client) {
      const audit = runtime.audit;
      // As Flipt does, the authentication is read first only for its event: a token's is `token:deleted` with the
      // token's metadata as its payload (Flipt's), any other's `authentication:deleted`.
      const auditing = audit.wants('token', 'deleted') || audit.wants('authentication', 'deleted');
      const deleting = auditing ? await runtime.store.getAuthenticationById(id) : undefined;
      const deleted = await runtime.store.deleteAuthentications({ id });
      // Deleted by someone else in between: theirs is the event.
      if (deleting === undefined || deleted === 0) return;
      const token = deleting.method === 'METHOD_TOKEN';
      const [type, payload] = token
        ? ['token', { ...deleting.metadata }]
        : ['authentication', { id, method: deleting.method }];
      if (!audit.wants(type, 'deleted')) return;
      audit.record({ type, action: 'deleted', status: 'success', actor: clientActor(client), payload });
    },
  };
}

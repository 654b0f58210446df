import { ErrorCodes, errorMessage, PluginError } from '../errors.ts';
import { isThenable, type MaybePromise, settle } from '../maybe-promise.ts';
import type { Authentication, Logger, MethodInstance } from '../plugins/contracts.ts';
import { authenticationProblem, isFrozenAuthentication } from '../plugins/instance.ts';
import { lookUpTokenHash } from '../store/at-once.ts';
import type { AuthenticationStore } from '../store/types.ts';
import { hashCredential } from './credential-bytes.ts';
import { KnownClientTokens } from './known-client-tokens.ts';
import { type Reason, Reasons, refusalReason } from './reasons.ts';

/** The credentials a request carries, as read from its headers. */
export interface RequestCredentials {
  /** The `Authorization` header, when present (even empty). */
  readonly authorization?: string | undefined;
  /** The `flipt_client_token` cookie, when present. */
  readonly cookieToken?: string | undefined;
}

/**
 * The outcome of authenticating a request: who, or why not — a stable snake_case `reason` id ({@link Reasons}, or
 * one a method gave) and a free-text `detail`, both for logs, metrics and audit events, never for the client.
 */
export type AuthenticationOutcome =
  | { readonly ok: true; readonly authentication: Authentication; readonly via: string }
  | { readonly ok: false; readonly reason: string; readonly detail: string; readonly via: string };

/** A refusal. */
function refused(reason: string, detail: string, via: string): AuthenticationOutcome {
  return { ok: false, reason, detail, via };
}

/** The refusal of what a method threw: its reason id (or one named after its code, or `fallback`), its message. */
function refusedBy(
  method: PipelineMethod,
  error: unknown,
  fallback: Reason,
  via: string,
): AuthenticationOutcome {
  return refused(refusalReason(error, fallback), `${method.name}: ${errorMessage(error)}`, via);
}

/** A running method: it may own `Authorization` schemes, and may admit or refuse its own sessions. */
export interface PipelineMethod {
  readonly name: string;
  /** The API enum it creates authentications with, e.g. `METHOD_OIDC`. */
  readonly method: string;
  readonly instance: MethodInstance;
}

const CLIENT_TOKEN_SCHEME = 'Bearer';
const CLIENT_TOKEN_PREFIX = `${CLIENT_TOKEN_SCHEME} `;

/**
 * Flipt's request authentication:
 * - `Authorization: <Scheme> <credential>` for a scheme a method declared (`JWT` for jwt and kubernetes, or a
 *   third party's) goes to the methods owning it, in order, until one takes it;
 * - `Authorization: Bearer <client token>` is first matched by value against the tokens methods declared in
 *   `clientTokens` (the token method's static tokens; see {@link KnownClientTokens}), then looked up by its hash:
 *   by each method with a `findClientToken` hook, then in the store;
 * - with no `Authorization` header at all, the `flipt_client_token` cookie is looked up instead; any other
 *   `Authorization` header means the cookie is not consulted;
 * - an expired authentication is refused at once;
 * - a session a method created (say, OIDC) is then offered to that method's `admit`, which may refuse it.
 * Schemes are matched exactly, with one space, as Flipt does.
 */
export class CredentialPipeline {
  readonly #store: AuthenticationStore;
  /** Each scheme with its `Authorization` prefix (the scheme and one space) and its owners, in order. */
  readonly #owners: ReadonlyArray<readonly [string, string, readonly PipelineMethod[]]>;
  readonly #admitters: ReadonlyMap<string, PipelineMethod>;
  readonly #finders: readonly PipelineMethod[];
  readonly #known: KnownClientTokens;
  readonly #identifiers: ReadonlyMap<string, PipelineMethod>;
  /** Which method took a credential by its scheme: it answers for the identity, whatever `method` it wrote. */
  readonly #takenBy = new WeakMap<Authentication, PipelineMethod>();
  readonly #now: () => Date;
  readonly #log: Pick<Logger, 'warn'> | undefined;
  readonly #identityWarned = new Set<string>();

  constructor(options: {
    store: AuthenticationStore;
    methods: readonly PipelineMethod[];
    now?: () => Date;
    /** Where a broken `identity` hook is reported. */
    log?: Pick<Logger, 'warn'>;
  }) {
    this.#store = options.store;
    this.#log = options.log;
    this.#now = options.now ?? (() => new Date());
    this.#admitters = new Map(
      options.methods
        .filter((method) => method.instance.admit !== undefined)
        .map((method) => [method.method, method]),
    );
    this.#finders = options.methods.filter((method) => method.instance.findClientToken !== undefined);
    this.#known = new KnownClientTokens(
      options.methods.flatMap(({ name, instance: { clientTokens } }) =>
        clientTokens === undefined ? [] : [{ method: name, tokens: clientTokens }],
      ),
    );
    this.#identifiers = new Map(
      options.methods
        .filter((method) => method.instance.identity !== undefined)
        .map((method) => [method.method, method]),
    );
    const owners = new Map<string, PipelineMethod[]>();
    for (const method of options.methods) {
      if (method.instance.authenticate === undefined) continue;
      // Listed twice, a scheme would have its credential offered to the method twice.
      for (const scheme of new Set(method.instance.schemes ?? [])) {
        // Schemes are case-insensitive (RFC 9110 §11.1): `bearer` is Bearer, reserved as well.
        const reserved = scheme.toLowerCase() === CLIENT_TOKEN_SCHEME.toLowerCase();
        if (reserved || !/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(scheme)) {
          throw new PluginError(
            ErrorCodes.PLUGIN_INVALID,
            `plugin "${method.name}" declares the scheme "${scheme}", which ${reserved ? 'is reserved for client tokens' : 'is not a valid HTTP authentication scheme'}`,
            { plugin: method.name },
          );
        }
        owners.set(scheme, [...(owners.get(scheme) ?? []), method]);
      }
    }
    this.#owners = [...owners].map(([scheme, methods]) => [scheme, `${scheme} `, methods] as const);
  }

  /**
   * The outcome, at once when every step answered at once (a static token: a finder's synchronous answer), else a
   * promise of it. A request's decision is on every request's path: each `await` there is a promise and a trip
   * through the microtask queue, which the static token's lookup, itself a map read, does not need.
   */
  authenticate(credentials: RequestCredentials): MaybePromise<AuthenticationOutcome> {
    const { authorization } = credentials;
    if (authorization !== undefined) {
      for (const [scheme, prefix, owners] of this.#owners) {
        if (authorization.startsWith(prefix)) {
          return this.#byScheme(scheme, authorization.slice(prefix.length), owners, 0);
        }
      }
      if (authorization.startsWith(CLIENT_TOKEN_PREFIX)) {
        return this.#byClientToken(authorization.slice(CLIENT_TOKEN_PREFIX.length), 'bearer');
      }
      return refused(Reasons.UNSUPPORTED_AUTHORIZATION, 'unsupported authorization header', 'authorization');
    }
    if (credentials.cookieToken !== undefined) return this.#byClientToken(credentials.cookieToken, 'cookie');
    return refused(Reasons.NO_CREDENTIAL, 'no credential', 'none');
  }

  #byClientToken(clientToken: string, via: string): MaybePromise<AuthenticationOutcome> {
    const known = this.#known.match(clientToken);
    if (known !== undefined) return this.#admitted(known, via);
    // The bytes the client sent, as Flipt hashes them; static and stored tokens were hashed from their UTF-8 bytes.
    const tokenHash = hashCredential(clientToken);
    const byHash = this.#known.find(tokenHash);
    if (byHash !== undefined) return this.#admitted(byHash, via);
    return this.#fromFinders(tokenHash, via, 0);
  }

  /** The finders from `index` on, in order, then the store: the first that knows the token answers. */
  #fromFinders(tokenHash: string, via: string, index: number): MaybePromise<AuthenticationOutcome> {
    const finder = this.#finders[index];
    if (finder === undefined) {
      // A store that fails fails the decision (an error answer, not a refusal), as it always has: a rejection.
      let found: MaybePromise<Authentication | undefined>;
      try {
        found = lookUpTokenHash(this.#store, tokenHash);
      } catch (error) {
        return Promise.reject(error);
      }
      return settle(
        found,
        (authentication) =>
          authentication === undefined
            ? refused(Reasons.CLIENT_TOKEN_NOT_FOUND, 'client token not found', via)
            : this.#admitted(authentication, via),
        (error) => {
          throw error;
        },
      );
    }
    let found: unknown;
    try {
      found = (finder.instance.findClientToken as NonNullable<MethodInstance['findClientToken']>).call(
        finder.instance,
        tokenHash,
      );
    } catch (error) {
      return refusedBy(finder, error, Reasons.METHOD_REFUSED, via);
    }
    // Checked when it was made, and no thenable: admitted as it is, without `next` (a configured token's answer).
    if (isFrozenAuthentication(found)) return this.#admitted(found, via);
    // `null` is "not mine" too, as `authenticate` says it.
    if (found === undefined || found === null) return this.#fromFinders(tokenHash, via, index + 1);
    // An answer, at once or once a promise of it settles.
    const next = (answer: unknown): MaybePromise<AuthenticationOutcome> => {
      if (answer === undefined || answer === null) return this.#fromFinders(tokenHash, via, index + 1);
      const problem = authenticationProblem(answer);
      if (problem !== undefined) {
        return refused(Reasons.METHOD_INVALID_ANSWER, `${finder.name}: findClientToken ${problem}`, via);
      }
      return this.#admitted(answer as Authentication, via);
    };
    return settle(found, next, (error) => refusedBy(finder, error, Reasons.METHOD_REFUSED, via));
  }

  /** Unless expired, offered to the `admit` of the method that created it, if it has one. */
  #admitted(authentication: Authentication, via: string): MaybePromise<AuthenticationOutcome> {
    const outcome = this.#unlessExpired(authentication, via, '');
    const admitter = this.#admitters.get(authentication.method);
    if (!outcome.ok || admitter === undefined) return outcome;
    const notAdmitted = (error: unknown) => refusedBy(admitter, error, Reasons.NOT_ADMITTED, via);
    let admitted: unknown;
    try {
      admitted = (admitter.instance.admit as NonNullable<MethodInstance['admit']>).call(
        admitter.instance,
        authentication,
      );
    } catch (error) {
      return notAdmitted(error);
    }
    return settle(admitted, () => outcome, notAdmitted);
  }

  /**
   * Who an authentication is, as its method's `identity` hook reads it; `undefined` when the method has none, is
   * not running, or its hook throws (the identity then falls back to the id).
   */
  readonly identify = (
    authentication: Authentication,
  ): { readonly user?: string; readonly email?: string } | undefined => {
    const owner = this.#takenBy.get(authentication) ?? this.#identifiers.get(authentication.method);
    if (owner === undefined) return undefined;
    let identity: unknown;
    try {
      identity = (owner.instance.identity as NonNullable<MethodInstance['identity']>).call(
        owner.instance,
        authentication,
      );
    } catch (error) {
      this.#identityFailed(owner, `threw: ${errorMessage(error)}`);
      return undefined;
    }
    if (typeof identity !== 'object' || identity === null) {
      this.#identityFailed(
        owner,
        `answered ${identity === null ? 'null' : typeof identity}, not { user, email }`,
      );
      return undefined;
    }
    let user: unknown;
    let email: unknown;
    try {
      if (isThenable(identity)) {
        this.#identityFailed(owner, 'answered a promise: identity must answer at once, not asynchronously');
        return undefined;
      }
      ({ user, email } = identity as { user?: unknown; email?: unknown });
    } catch (error) {
      // A getter that throws would otherwise throw out of the proxy's header building, outside any request handler.
      this.#identityFailed(owner, `answered an object that cannot be read: ${errorMessage(error)}`);
      return undefined;
    }
    if (
      (user !== undefined && typeof user !== 'string') ||
      (email !== undefined && typeof email !== 'string')
    ) {
      this.#identityFailed(owner, 'answered a user or email that is not a string');
    }
    return {
      ...(typeof user === 'string' && { user }),
      ...(typeof email === 'string' && { email }),
    };
  };

  /**
   * A broken `identity` hook: the headers fall back to the id, and the operator is told once per method (the hook
   * runs on every request, so a line each time would flood the log).
   */
  #identityFailed(owner: PipelineMethod, problem: string): void {
    if (this.#identityWarned.has(owner.name)) return;
    this.#identityWarned.add(owner.name);
    this.#log?.warn(
      { plugin: owner.name },
      `plugin "${owner.name}": identity ${problem}; identity headers fall back to the authentication's id (said once)`,
    );
  }

  /**
   * An expired authentication is refused at once, whatever its method. Expired at its `expiresAt` itself: times are
   * kept to the millisecond, so an expiry set to "now" (`ExpireAuthenticationSelf` without a time) would otherwise
   * let a call in the same millisecond through (Flipt's `Before(now)` compares nanoseconds, where that cannot happen).
   */
  #unlessExpired(authentication: Authentication, via: string, detailPrefix: string): AuthenticationOutcome {
    if (
      authentication.expiresAt !== undefined &&
      authentication.expiresAt.getTime() <= this.#now().getTime()
    ) {
      return refused(Reasons.AUTHENTICATION_EXPIRED, `${detailPrefix}authentication expired`, via);
    }
    return { ok: true, authentication, via };
  }

  /** The owners of `scheme` from `index` on, in order, until one takes the credential. */
  #byScheme(
    scheme: string,
    value: string,
    owners: readonly PipelineMethod[],
    index: number,
  ): MaybePromise<AuthenticationOutcome> {
    const owner = owners[index];
    if (owner === undefined) {
      return refused(Reasons.NO_METHOD_ACCEPTED, `no method accepted the ${scheme} credential`, scheme);
    }
    const next = (answer: unknown): MaybePromise<AuthenticationOutcome> => {
      if (answer === null) return this.#byScheme(scheme, value, owners, index + 1);
      const problem = authenticationProblem(answer);
      if (problem !== undefined) {
        return refused(Reasons.METHOD_INVALID_ANSWER, `${owner.name}: authenticate ${problem}`, owner.name);
      }
      const authentication = answer as Authentication;
      // Recorded only where `identify` could not tell the owner from the method (a WeakMap entry per first-seen
      // authentication is work for every young-generation collection); a record left by another method that answered
      // the same object goes, so the last taker answers, as when every take was recorded. (An authentication's
      // `method` is read-only: one changed after the take is identified by what it now says.)
      if (owner.instance.identity !== undefined) {
        if (this.#identifiers.get(authentication.method) !== owner) this.#takenBy.set(authentication, owner);
        else this.#takenBy.delete(authentication);
      }
      return this.#unlessExpired(authentication, owner.name, `${owner.name}: `);
    };
    const methodRefused = (error: unknown) => refusedBy(owner, error, Reasons.METHOD_REFUSED, owner.name);
    let answer: unknown;
    try {
      answer = (owner.instance.authenticate as NonNullable<MethodInstance['authenticate']>).call(
        owner.instance,
        { scheme, value },
      );
    } catch (error) {
      return methodRefused(error);
    }
    return settle(answer, next, methodRefused);
  }
}

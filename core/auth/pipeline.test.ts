import { describe, expect, it } from 'vitest';
import { ErrorCodes, PluginError } from '../errors.ts';
import type { Authentication, Logger, MethodInstance } from '../plugins/contracts.ts';
import { frozenAuthentication } from '../plugins/instance.ts';
import { answersAtOnce } from '../store/at-once.ts';
import { MemoryStore } from '../store/memory.ts';
import { CredentialPipeline, type PipelineMethod } from './pipeline.ts';
import { hashClientToken } from './token.ts';

const store = () => new MemoryStore({ gracePeriodMs: 0, cleanupIntervalMs: 0 });

/** A method answering client-token lookups before the store, as the token method does for static tokens. */
const statics: PipelineMethod = {
  name: 'token',
  method: 'METHOD_TOKEN',
  instance: {
    findClientToken: (tokenHash) =>
      tokenHash === hashClientToken('static-secret')
        ? { id: 'ci', method: 'METHOD_TOKEN', metadata: {} }
        : undefined,
  },
};

const jwtAuth: Authentication = {
  id: '',
  method: 'METHOD_JWT',
  metadata: { 'io.flipt.auth.jwt.issuer': 'a' },
};

function owner(name: string, answer: (value: string) => Authentication | null, schemes = ['JWT']) {
  const seen: string[] = [];
  const instance: MethodInstance = {
    schemes,
    async authenticate(credential) {
      seen.push(credential.value);
      return answer(credential.value);
    },
  };
  return { owner: { name, method: `METHOD_${name.toUpperCase()}`, instance }, seen };
}

describe('CredentialPipeline', () => {
  it('matches the tokens methods declare by value before any finder or the store, with expiry and admit applied', async () => {
    const declared = (id: string, expiresAt?: Date) =>
      frozenAuthentication({ id, method: 'METHOD_TOKEN', metadata: {}, ...(expiresAt && { expiresAt }) });
    const admitted: string[] = [];
    const known: PipelineMethod = {
      name: 'token',
      method: 'METHOD_TOKEN',
      instance: {
        clientTokens: [
          { credential: 'static-secret', authentication: declared('by-value') },
          { credential: 'expired-secret', authentication: declared('old', new Date(0)) },
        ],
        admit(authentication) {
          admitted.push(authentication.id);
        },
      },
    };
    // A finder that would answer the same token otherwise: the declared one wins.
    const pipeline = new CredentialPipeline({ store: store(), methods: [known, statics] });
    expect(pipeline.authenticate({ authorization: 'Bearer static-secret' })).toMatchObject({
      ok: true,
      authentication: { id: 'by-value' },
      via: 'bearer',
    });
    expect(pipeline.authenticate({ cookieToken: 'static-secret' })).toMatchObject({
      ok: true,
      via: 'cookie',
    });
    expect(await pipeline.authenticate({ authorization: 'Bearer expired-secret' })).toMatchObject({
      ok: false,
      reason: 'authentication_expired',
    });
    expect(admitted).toEqual(['by-value', 'by-value']);
  });

  it('authenticates Bearer client tokens, those a method finds (static ones) first, and refuses unknown ones', async () => {
    const s = store();
    const { clientToken } = await s.createAuthentication({ method: 'METHOD_TOKEN', metadata: {} });
    const pipeline = new CredentialPipeline({ store: s, methods: [statics] });
    expect(await pipeline.authenticate({ authorization: 'Bearer static-secret' })).toMatchObject({
      ok: true,
      authentication: { id: 'ci' },
      via: 'bearer',
    });
    expect(await pipeline.authenticate({ authorization: `Bearer ${clientToken}` })).toMatchObject({
      ok: true,
    });
    expect(await pipeline.authenticate({ authorization: 'Bearer nope' })).toEqual({
      ok: false,
      reason: 'client_token_not_found',
      detail: 'client token not found',
      via: 'bearer',
    });
  });

  it('reads the cookie only when there is no Authorization header at all', async () => {
    const pipeline = new CredentialPipeline({ store: store(), methods: [statics] });
    expect(await pipeline.authenticate({ cookieToken: 'static-secret' })).toMatchObject({
      ok: true,
      via: 'cookie',
    });
    expect(
      await pipeline.authenticate({ authorization: 'Basic abc', cookieToken: 'static-secret' }),
    ).toMatchObject({
      ok: false,
      reason: 'unsupported_authorization',
      detail: 'unsupported authorization header',
    });
    expect(await pipeline.authenticate({ authorization: '', cookieToken: 'static-secret' })).toMatchObject({
      ok: false,
    });
    expect(await pipeline.authenticate({})).toEqual({
      ok: false,
      reason: 'no_credential',
      detail: 'no credential',
      via: 'none',
    });
  });

  it("takes Flipt's exact Bearer form: one space, case-sensitive, the rest is the token", async () => {
    const pipeline = new CredentialPipeline({ store: store(), methods: [statics] });
    for (const authorization of [
      'Bearer',
      'Bearer ',
      'bearer static-secret',
      'Bearer  static-secret',
      'Bearer static-secret ',
    ]) {
      expect(await pipeline.authenticate({ authorization }), authorization).toMatchObject({ ok: false });
    }
  });

  it('refuses an expired authentication at once', async () => {
    const s = store();
    const { clientToken } = await s.createAuthentication({
      method: 'METHOD_TOKEN',
      metadata: {},
      expiresAt: new Date(Date.now() - 1),
    });
    const pipeline = new CredentialPipeline({ store: s, methods: [statics] });
    expect(await pipeline.authenticate({ authorization: `Bearer ${clientToken}` })).toMatchObject({
      ok: false,
      reason: 'authentication_expired',
      detail: 'authentication expired',
    });
  });

  it('offers a declared scheme to its owners in order until one takes it', async () => {
    const notMine = owner('kubernetes', () => null);
    const mine = owner('jwt', (value) => (value === 'good' ? jwtAuth : null));
    const pipeline = new CredentialPipeline({
      store: store(),
      methods: [statics, notMine.owner, mine.owner],
    });
    expect(await pipeline.authenticate({ authorization: 'JWT good' })).toEqual({
      ok: true,
      authentication: jwtAuth,
      via: 'jwt',
    });
    expect(notMine.seen).toEqual(['good']);
    expect(await pipeline.authenticate({ authorization: 'JWT other' })).toEqual({
      ok: false,
      reason: 'no_method_accepted',
      detail: 'no method accepted the JWT credential',
      via: 'JWT',
    });
    expect(await pipeline.authenticate({ authorization: 'Bearer good' })).toMatchObject({
      reason: 'client_token_not_found',
    });
  });

  it('stops at an owner that refuses, with its reason, and refuses what it returns already expired', async () => {
    const refusing = owner('jwt', () => {
      throw new Error('signature invalid');
    });
    const never = owner('kubernetes', () => jwtAuth);
    const pipeline = new CredentialPipeline({
      store: store(),
      methods: [statics, refusing.owner, never.owner],
    });
    expect(await pipeline.authenticate({ authorization: 'JWT x' })).toEqual({
      ok: false,
      reason: 'method_refused',
      detail: 'jwt: signature invalid',
      via: 'jwt',
    });
    expect(never.seen).toEqual([]);
    const stale = owner('jwt', () => ({ ...jwtAuth, expiresAt: new Date(Date.now() - 1000) }));
    expect(
      await new CredentialPipeline({ store: store(), methods: [statics, stale.owner] }).authenticate({
        authorization: 'JWT x',
      }),
    ).toMatchObject({
      ok: false,
      reason: 'authentication_expired',
      detail: 'jwt: authentication expired',
    });
  });

  it("names a method's refusal by its reason id, else by its code, else method_refused", async () => {
    const refusing = (error: unknown) =>
      new CredentialPipeline({
        store: store(),
        methods: [
          owner('jwt', () => {
            throw error;
          }).owner,
        ],
      }).authenticate({ authorization: 'JWT x' });
    expect(
      await refusing(new PluginError(ErrorCodes.UNAUTHENTICATED, 'too late', { reason: 'token_expired' })),
    ).toEqual({ ok: false, reason: 'token_expired', detail: 'jwt: too late', via: 'jwt' });
    expect(
      await refusing(
        Object.assign(new Error('bad signature'), { code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' }),
      ),
    ).toMatchObject({ reason: 'jws_signature_verification_failed', detail: 'jwt: bad signature' });
    // Words are not an id: the code names it then, or nothing does.
    expect(
      await refusing(Object.assign(new Error('no'), { reason: 'Not Allowed!', code: 'ERR_UNAUTHENTICATED' })),
    ).toMatchObject({ reason: 'unauthenticated' });
    expect(await refusing(new Error('no'))).toMatchObject({ reason: 'method_refused', detail: 'jwt: no' });
    expect(await refusing('a string')).toMatchObject({ reason: 'method_refused', detail: 'jwt: a string' });
  });

  it('routes third-party schemes too, preferring the longest scheme that matches', async () => {
    const basic = owner('ldap', () => ({ id: 'u', method: 'METHOD_LDAP', metadata: {} }), ['Basic']);
    const pipeline = new CredentialPipeline({ store: store(), methods: [statics, basic.owner] });
    expect(await pipeline.authenticate({ authorization: 'Basic dXNlcjpwYXNz' })).toMatchObject({
      ok: true,
      via: 'ldap',
    });
  });

  it('answers at once when every step did (a static token), and the same outcomes when steps are promises', async () => {
    const s = store();
    const pipeline = new CredentialPipeline({ store: s, methods: [statics] });
    // Not a promise: the hook then goes on without a microtask turn (issue 21's request path).
    const atOnce = pipeline.authenticate({ authorization: 'Bearer static-secret' });
    expect(atOnce).not.toBeInstanceOf(Promise);
    expect(atOnce).toMatchObject({ ok: true, authentication: { id: 'ci' } });
    // The memory store answers its lookup at once too (lookUpTokenHash), found or not.
    const created = await s.createAuthentication({ method: 'METHOD_TOKEN', metadata: {} });
    const stored = pipeline.authenticate({ authorization: `Bearer ${created.clientToken}` });
    expect(stored).not.toBeInstanceOf(Promise);
    expect(stored).toMatchObject({ ok: true, authentication: { id: created.authentication.id } });
    const unknown = pipeline.authenticate({ authorization: 'Bearer nope' });
    expect(unknown).not.toBeInstanceOf(Promise);
    expect(unknown).toMatchObject({ ok: false, reason: 'client_token_not_found' });
    // A store that must wait is a promise; so is anything after a finder that answered with one.
    const waiting = Object.assign(store(), { getAuthenticationByTokenHash: async () => undefined });
    expect(
      new CredentialPipeline({ store: waiting, methods: [statics] }).authenticate({
        authorization: 'Bearer nope',
      }),
    ).toBeInstanceOf(Promise);

    const asked: string[] = [];
    const finder = (name: string, answer: () => unknown): PipelineMethod => ({
      name,
      method: `METHOD_${name.toUpperCase()}`,
      instance: {
        findClientToken: () => {
          asked.push(name);
          return answer() as Authentication | undefined;
        },
      },
    });
    const found = { id: 'later', method: 'METHOD_TOKEN', metadata: {} };
    const chain = new CredentialPipeline({
      store: s,
      methods: [finder('slow', async () => undefined), finder('sync', () => found)],
    });
    expect(await chain.authenticate({ authorization: 'Bearer x' })).toMatchObject({
      ok: true,
      authentication: { id: 'later' },
    });
    expect(asked).toEqual(['slow', 'sync']);
    for (const [name, answer] of [
      [
        'throws',
        () => {
          throw new Error('lookup broke');
        },
      ],
      ['rejects', () => Promise.reject(new Error('lookup broke'))],
    ] as const) {
      const broken = new CredentialPipeline({ store: s, methods: [finder(name, answer)] });
      expect(await broken.authenticate({ authorization: 'Bearer x' })).toEqual({
        ok: false,
        reason: 'method_refused',
        detail: `${name}: lookup broke`,
        via: 'bearer',
      });
    }
    // A scheme owner that throws at once is refused as one that rejects.
    const thrower: PipelineMethod = {
      name: 'thrower',
      method: 'METHOD_THROWER',
      instance: {
        schemes: ['JWT'],
        authenticate: () => {
          throw new Error('bad token');
        },
      },
    };
    expect(
      await new CredentialPipeline({ store: s, methods: [thrower] }).authenticate({ authorization: 'JWT t' }),
    ).toEqual({ ok: false, reason: 'method_refused', detail: 'thrower: bad token', via: 'thrower' });
  });

  it('fails (rejects) when the store fails, and takes a store that answers at once', async () => {
    const failing = Object.assign(store(), {
      getAuthenticationByTokenHash: () => Promise.reject(new Error('store down')),
    });
    await expect(
      new CredentialPipeline({ store: failing, methods: [] }).authenticate({ authorization: 'Bearer x' }),
    ).rejects.toThrow('store down');
    // A lookup at once that throws fails the decision alike: a rejection, not a throw out of authenticate.
    const throwing = Object.assign(store(), { getAuthenticationByTokenHash: async () => undefined });
    answersAtOnce(throwing.getAuthenticationByTokenHash, () => {
      throw new Error('store broke');
    });
    const broke = new CredentialPipeline({ store: throwing, methods: [] }).authenticate({
      authorization: 'Bearer x',
    });
    expect(broke).toBeInstanceOf(Promise);
    await expect(broke).rejects.toThrow('store broke');
    const found = { id: 'a', method: 'METHOD_TOKEN', metadata: {} };
    const atOnce = Object.assign(store(), {
      getAuthenticationByTokenHash: () => found as unknown as Promise<Authentication>,
    });
    expect(
      new CredentialPipeline({ store: atOnce, methods: [] }).authenticate({ authorization: 'Bearer x' }),
    ).toMatchObject({ ok: true, authentication: { id: 'a' } });
  });

  it('refuses a session its method does not admit, whether admit throws or rejects', async () => {
    const s = store();
    for (const admit of [
      () => {
        throw new Error('no');
      },
      () => Promise.reject(new Error('no')),
    ]) {
      const session = await s.createAuthentication({ method: 'METHOD_OIDC', metadata: {} });
      const oidc: PipelineMethod = { name: 'oidc', method: 'METHOD_OIDC', instance: { admit } };
      const pipeline = new CredentialPipeline({ store: s, methods: [oidc] });
      expect(await pipeline.authenticate({ cookieToken: session.clientToken })).toEqual({
        ok: false,
        reason: 'not_admitted',
        detail: 'oidc: no',
        via: 'cookie',
      });
    }
  });

  it('offers each session to the method that created it, whose refusal is a 401 with its reason', async () => {
    const s = store();
    const mine = await s.createAuthentication({
      method: 'METHOD_OIDC',
      metadata: { email: 'eve@evil.example' },
    });
    const other = await s.createAuthentication({ method: 'METHOD_TOKEN', metadata: {} });
    const admitted: string[] = [];
    const oidc = {
      name: 'oidc',
      method: 'METHOD_OIDC',
      instance: {
        admit(authentication: Authentication) {
          admitted.push(authentication.id);
          if (authentication.metadata.email?.endsWith('@evil.example'))
            throw new Error('email is not allowed');
        },
      } satisfies MethodInstance,
    };
    const pipeline = new CredentialPipeline({ store: s, methods: [statics, oidc] });
    expect(await pipeline.authenticate({ authorization: `Bearer ${mine.clientToken}` })).toEqual({
      ok: false,
      reason: 'not_admitted',
      detail: 'oidc: email is not allowed',
      via: 'bearer',
    });
    expect(await pipeline.authenticate({ cookieToken: other.clientToken })).toMatchObject({ ok: true });
    expect(await pipeline.authenticate({ authorization: 'Bearer static-secret' })).toMatchObject({
      ok: true,
    });
    expect(admitted).toEqual([mine.authentication.id]);
  });

  it('refuses a plugin that claims Bearer or an invalid scheme', () => {
    for (const scheme of ['Bearer', 'Two words', '']) {
      const bad = owner('bad', () => null, [scheme]);
      expect(() => new CredentialPipeline({ store: store(), methods: [bad.owner] })).toThrow(
        expect.objectContaining({ code: ErrorCodes.PLUGIN_INVALID, plugin: 'bad' }),
      );
    }
  });
});

describe('CredentialPipeline: what a method answers', () => {
  const answering = (answer: unknown): PipelineMethod => ({
    name: 'odd',
    method: 'METHOD_ODD',
    instance: { schemes: ['Odd'], authenticate: async () => answer as Authentication },
  });

  it.each([
    [false, 'answered boolean'],
    [undefined, 'answered undefined'],
    [42, 'answered number'],
    ['alice', 'answered string'],
    [[], 'answered an array'],
    [{}, 'without a string id'],
    [{ id: 'a', metadata: {} }, 'without its method'],
    [{ id: 'a', method: 'METHOD_ODD', metadata: { n: 1 } }, 'metadata is not an object of strings'],
    [{ id: 'a', method: 'METHOD_ODD', metadata: {}, expiresAt: 'tomorrow' }, 'expiresAt is not a valid Date'],
  ])('refuses an authenticate answering %j, never taking it for a caller', async (answer, problem) => {
    const outcome = await new CredentialPipeline({
      store: store(),
      methods: [answering(answer)],
    }).authenticate({
      authorization: 'Odd x',
    });
    expect(outcome).toMatchObject({ ok: false, reason: 'method_invalid_answer', via: 'odd' });
    expect((outcome as { detail: string }).detail).toMatch(/^odd: authenticate answered /);
    expect((outcome as { detail: string }).detail).toContain(problem);
  });

  it('answers a frozenAuthentication at once, as it is, and still refuses it expired or not admitted', () => {
    const now = new Date('2026-08-22T10:00:00.000Z');
    const answers = new Map([
      ['live', frozenAuthentication({ id: 'live', method: 'METHOD_TOKEN', metadata: {} })],
      ['old', frozenAuthentication({ id: 'old', method: 'METHOD_TOKEN', expiresAt: now, metadata: {} })],
      ['kept-out', frozenAuthentication({ id: 'kept-out', method: 'METHOD_GUARDED', metadata: {} })],
    ]);
    const finder: PipelineMethod = {
      name: 'frozen',
      method: 'METHOD_TOKEN',
      instance: {
        findClientToken: (tokenHash) =>
          [...answers].find(([token]) => hashClientToken(token) === tokenHash)?.[1],
      },
    };
    const guarded: PipelineMethod = {
      name: 'guarded',
      method: 'METHOD_GUARDED',
      instance: {
        admit() {
          throw new Error('not today');
        },
      },
    };
    const pipeline = new CredentialPipeline({ store: store(), methods: [finder, guarded], now: () => now });
    // No promise: a configured token's answer goes on in the same turn.
    const live = pipeline.authenticate({ authorization: 'Bearer live' });
    expect(live).toEqual({ ok: true, authentication: answers.get('live'), via: 'bearer' });
    expect((live as { authentication: unknown }).authentication).toBe(answers.get('live'));
    expect(pipeline.authenticate({ cookieToken: 'old' })).toMatchObject({
      ok: false,
      reason: 'authentication_expired',
      via: 'cookie',
    });
    expect(pipeline.authenticate({ authorization: 'Bearer kept-out' })).toMatchObject({
      ok: false,
      reason: 'not_admitted',
      detail: 'guarded: not today',
    });
  });

  it('refuses a findClientToken answer that is not an authentication, and asks the next on undefined', async () => {
    const junk: PipelineMethod = {
      name: 'junk',
      method: 'METHOD_JUNK',
      instance: { findClientToken: () => 'junk' as unknown as Authentication },
    };
    expect(
      await new CredentialPipeline({ store: store(), methods: [junk] }).authenticate({
        authorization: 'Bearer x',
      }),
    ).toMatchObject({
      ok: false,
      reason: 'method_invalid_answer',
      detail: 'junk: findClientToken answered string, not an authentication (or null)',
    });
    const nulls: PipelineMethod = {
      name: 'nulls',
      method: 'METHOD_NULLS',
      instance: { findClientToken: () => null },
    };
    expect(
      await new CredentialPipeline({ store: store(), methods: [nulls, statics] }).authenticate({
        authorization: 'Bearer static-secret',
      }),
    ).toMatchObject({ ok: true, authentication: { id: 'ci' } });
    const getter: PipelineMethod = {
      name: 'getter',
      method: 'METHOD_GETTER',
      instance: {
        findClientToken: () =>
          ({
            get id(): string {
              throw new Error('no id');
            },
            method: 'METHOD_GETTER',
            metadata: {},
          }) as Authentication,
      },
    };
    expect(
      await new CredentialPipeline({ store: store(), methods: [getter] }).authenticate({
        authorization: 'Bearer x',
      }),
    ).toMatchObject({
      ok: false,
      reason: 'method_invalid_answer',
      detail: 'getter: findClientToken answered an authentication that cannot be read (no id)',
    });
    const none: PipelineMethod = {
      name: 'none',
      method: 'METHOD_NONE_',
      instance: { findClientToken: () => undefined },
    };
    expect(
      await new CredentialPipeline({ store: store(), methods: [none, statics] }).authenticate({
        authorization: 'Bearer static-secret',
      }),
    ).toMatchObject({ ok: true, authentication: { id: 'ci' } });
  });

  it('reserves Bearer in any case, and offers a credential once to a method listing its scheme twice', async () => {
    const lower: PipelineMethod = {
      name: 'lower',
      method: 'METHOD_LOWER',
      instance: { schemes: ['bearer'], authenticate: async () => null },
    };
    expect(() => new CredentialPipeline({ store: store(), methods: [lower] })).toThrow(
      'plugin "lower" declares the scheme "bearer", which is reserved for client tokens',
    );
    let calls = 0;
    const twice: PipelineMethod = {
      name: 'twice',
      method: 'METHOD_TWICE',
      instance: {
        schemes: ['Twice', 'Twice'],
        authenticate: async () => {
          calls++;
          return null;
        },
      },
    };
    await new CredentialPipeline({ store: store(), methods: [twice] }).authenticate({
      authorization: 'Twice x',
    });
    expect(calls).toBe(1);
  });
});

describe('CredentialPipeline.identify', () => {
  it("reads a method's identity hook, keeps only string parts, and reports a broken hook once", () => {
    const warnings: string[] = [];
    const log = {
      warn: (fields: object | string, message?: string) =>
        void warnings.push(typeof fields === 'string' ? fields : (message ?? '')),
    } as Pick<Logger, 'warn'>;
    let answer: () => unknown = () => ({ user: 'ada', email: 'ada@example.com' });
    const method: PipelineMethod = {
      name: 'who',
      method: 'METHOD_WHO',
      instance: { identity: () => answer() as { user?: string } },
    };
    const pipeline = new CredentialPipeline({ store: store(), methods: [method], log });
    const authentication = { id: 'x', method: 'METHOD_WHO', metadata: {} };
    expect(pipeline.identify(authentication)).toEqual({ user: 'ada', email: 'ada@example.com' });
    answer = () => ({ user: 7, email: 'e@example.com' });
    expect(pipeline.identify(authentication)).toEqual({ email: 'e@example.com' });
    answer = () => 42;
    expect(pipeline.identify(authentication)).toBeUndefined();
    answer = () => ({
      get user() {
        throw new Error('getter');
      },
    });
    expect(pipeline.identify(authentication)).toBeUndefined();
    answer = async () => ({ user: 'later' });
    expect(pipeline.identify(authentication)).toBeUndefined();
    answer = () => ({
      user: 'u',
      // biome-ignore lint/suspicious/noThenProperty: a thenable whose then cannot be read is what is tested
      get then() {
        throw new Error('then');
      },
    });
    expect(pipeline.identify(authentication)).toBeUndefined();
    answer = () =>
      new Proxy(
        {},
        {
          get() {
            throw new Error('proxy');
          },
        },
      );
    expect(pipeline.identify(authentication)).toBeUndefined();
    answer = () => {
      throw new Error('boom');
    };
    expect(pipeline.identify(authentication)).toBeUndefined();
    expect(pipeline.identify({ id: 'y', method: 'METHOD_OTHER', metadata: {} })).toBeUndefined();
    // Once per method, however it breaks.
    expect(warnings).toEqual([
      'plugin "who": identity answered a user or email that is not a string; identity headers fall back to the authentication\'s id (said once)',
    ]);
  });
});

describe('CredentialPipeline.identify, two methods writing one method name', () => {
  // kubernetes and jwt both write METHOD_JWT and both answer JWT: the identity is the taker's, whichever is listed
  // last (the one `identify` would fall back to by method name).
  const writer = (name: string, takes: string): PipelineMethod => ({
    name,
    method: 'METHOD_JWT',
    instance: {
      schemes: ['JWT'],
      authenticate: ({ value }) => (value === takes ? { id: '', method: 'METHOD_JWT', metadata: {} } : null),
      identity: () => ({ user: name }),
    },
  });
  it.each([
    ['the first listed', 'a', 'first'],
    ['the last listed', 'b', 'second'],
  ])('answers with the identity hook of the method that took the credential: %s', async (_, token, user) => {
    const pipeline = new CredentialPipeline({
      store: store(),
      methods: [writer('first', 'a'), writer('second', 'b')],
    });
    const outcome = await pipeline.authenticate({ authorization: `JWT ${token}` });
    if (!outcome.ok) throw new Error(`refused: ${JSON.stringify(outcome)}`);
    expect(pipeline.identify(outcome.authentication)).toEqual({ user });
  });

  it('answers with the last taker of an object two methods both hand out', async () => {
    const shared = Object.freeze({ id: '', method: 'METHOD_JWT', metadata: Object.freeze({}) });
    const handing = (name: string, scheme: string): PipelineMethod => ({
      name,
      method: 'METHOD_JWT',
      instance: { schemes: [scheme], authenticate: () => shared, identity: () => ({ user: name }) },
    });
    const pipeline = new CredentialPipeline({
      store: store(),
      methods: [handing('first', 'X'), handing('second', 'JWT')],
    });
    for (const [scheme, user] of [
      ['X', 'first'],
      ['JWT', 'second'],
      ['X', 'first'],
    ]) {
      const outcome = await pipeline.authenticate({ authorization: `${scheme} t` });
      if (!outcome.ok) throw new Error(`refused: ${JSON.stringify(outcome)}`);
      expect(pipeline.identify(outcome.authentication)).toEqual({ user });
    }
  });
});

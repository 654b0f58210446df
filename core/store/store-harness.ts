/**
 * The behaviour every AuthenticationStore must have (Flipt's `TestAuthenticationStoreHarness`, and more). Each
 * store's test file calls {@link describeAuthenticationStore} with a factory; tests use real time, because a
 * store such as Redis expires keys with its own clock.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hashClientToken } from '../auth/token.ts';
import { ErrorCodes } from '../errors.ts';
import type { Authentication } from '../plugins/contracts.ts';
import { lookUpTokenHash } from './at-once.ts';
import { AUTHENTICATION_NOT_FOUND, DELETE_NEEDS_PREDICATE } from './shared.ts';
import type { AuthenticationStore } from './types.ts';

/** How a store under test is made, and what it promises about order. */
export interface HarnessOptions {
  /** A fresh, empty store. */
  readonly create: () => Promise<AuthenticationStore>;
  /** Whether lists come back oldest first, as the memory store's do (Redis's order is unspecified). */
  readonly ordered: boolean;
  /** Whether its token-hash lookup answers at once (`lookUpTokenHash`, at-once.ts), as the memory store's does. */
  readonly atOnce?: boolean;
  /** Everything the store holds, as text, to prove that no client token is kept in clear. */
  readonly dump: (store: AuthenticationStore) => Promise<string>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const hour = 3_600_000;

export function describeAuthenticationStore(name: string, options: HarnessOptions): void {
  describe(`${name} (store harness)`, () => {
    let store: AuthenticationStore;
    beforeEach(async () => {
      store = await options.create();
    });
    afterEach(async () => {
      await store.close();
    });

    const create = (method: string, extra: { expiresAt?: Date; metadata?: Record<string, string> } = {}) =>
      store.createAuthentication({
        method,
        metadata: extra.metadata ?? {},
        ...(extra.expiresAt && { expiresAt: extra.expiresAt }),
      });

    it('creates an authentication with a new id, a new client token, and both timestamps', async () => {
      const before = Date.now();
      const expiresAt = new Date(Date.now() + hour);
      const { clientToken, authentication } = await create('METHOD_TOKEN', {
        expiresAt,
        metadata: { 'io.flipt.auth.token.name': 'ci' },
      });
      expect(clientToken).toMatch(/^[A-Za-z0-9_-]{43}=$/);
      expect(authentication).toMatchObject({
        method: 'METHOD_TOKEN',
        expiresAt,
        metadata: { 'io.flipt.auth.token.name': 'ci' },
      });
      expect(authentication.id).toMatch(UUID);
      expect(authentication.createdAt?.getTime()).toBeGreaterThanOrEqual(before - 1);
      expect(authentication.updatedAt).toEqual(authentication.createdAt);
      const other = await create('METHOD_TOKEN');
      expect(other.authentication.id).not.toBe(authentication.id);
      expect(other.clientToken).not.toBe(clientToken);
      expect(other.authentication.expiresAt).toBeUndefined();
    });

    it('finds an authentication by client token and by id, and nothing for unknown ones', async () => {
      const { clientToken, authentication } = await create('METHOD_OIDC', { metadata: { a: 'b' } });
      expect(await store.getAuthenticationByClientToken(clientToken)).toEqual(authentication);
      expect(await store.getAuthenticationById(authentication.id)).toEqual(authentication);
      expect(await store.getAuthenticationByClientToken(`${clientToken}x`)).toBeUndefined();
      expect(await store.getAuthenticationByClientToken(hashClientToken(clientToken))).toBeUndefined();
      expect(await store.getAuthenticationByTokenHash(hashClientToken(clientToken))).toEqual(authentication);
      expect(await store.getAuthenticationByTokenHash(clientToken)).toBeUndefined();
      expect(await store.getAuthenticationById('00000000-0000-4000-8000-000000000000')).toBeUndefined();
    });

    it('answers the pipeline’s lookup (lookUpTokenHash) as its own, through changes; at once where it can', async () => {
      const lookUp = async (token: string) => {
        const answer = lookUpTokenHash(store, hashClientToken(token));
        if (options.atOnce === true) expect(answer).not.toBeInstanceOf(Promise);
        return answer;
      };
      const { clientToken, authentication } = await create('METHOD_OIDC', { metadata: { a: 'b' } });
      const found = await lookUp(clientToken);
      expect(found).toEqual(authentication);
      expect(await lookUp(`${clientToken}x`)).toBeUndefined();
      // A copy: changing what was answered changes nothing stored.
      (found?.metadata as Record<string, string>).a = 'changed';
      expect(await lookUp(clientToken)).toEqual(authentication);
      const later = new Date(Date.now() + 3_600_000);
      await store.expireAuthentication(authentication.id, later);
      expect(await lookUp(clientToken)).toEqual(
        await store.getAuthenticationByTokenHash(hashClientToken(clientToken)),
      );
      expect((await lookUp(clientToken))?.expiresAt?.getTime()).toBe(later.getTime());
      await store.deleteAuthentications({ id: authentication.id });
      expect(await lookUp(clientToken)).toBeUndefined();
    });

    it('keeps client tokens only as their hashes', async () => {
      const { clientToken } = await create('METHOD_TOKEN');
      const given = await store.createAuthentication({
        method: 'METHOD_TOKEN',
        metadata: {},
        clientToken: 'given-token-in-clear',
      });
      const contents = await options.dump(store);
      expect(contents).toContain(hashClientToken(clientToken));
      expect(contents).not.toContain(clientToken);
      expect(contents).not.toContain(given.clientToken);
    });

    it('still finds an expired authentication during its grace period (the caller refuses it)', async () => {
      const expiresAt = new Date(Date.now() - 1000);
      const { clientToken, authentication } = await create('METHOD_OIDC', { expiresAt });
      expect(await store.getAuthenticationByClientToken(clientToken)).toEqual(authentication);
      expect(authentication.expiresAt).toEqual(expiresAt);
    });

    it('accepts a given client token', async () => {
      const { clientToken, authentication } = await store.createAuthentication({
        method: 'METHOD_TOKEN',
        metadata: {},
        clientToken: 'configured-bootstrap-token',
      });
      expect(clientToken).toBe('configured-bootstrap-token');
      expect(await store.getAuthenticationByClientToken('configured-bootstrap-token')).toEqual(
        authentication,
      );
    });

    it('keeps extras beside the authentication without showing them in it', async () => {
      const { authentication } = await store.createAuthentication({
        method: 'METHOD_OIDC',
        metadata: {},
        extras: { provider: 'google', subject: 'mark', sessionId: 'sid-1', idToken: 'eyJ.id.token' },
      });
      expect(await store.getExtras(authentication.id)).toEqual({
        provider: 'google',
        subject: 'mark',
        sessionId: 'sid-1',
        idToken: 'eyJ.id.token',
      });
      expect(Object.keys(authentication)).not.toContain('extras');
      expect(await store.getExtras('00000000-0000-4000-8000-000000000000')).toBeUndefined();
    });

    it('returns copies: changing a returned authentication changes nothing stored', async () => {
      const { clientToken, authentication } = await create('METHOD_TOKEN', { metadata: { role: 'viewer' } });
      (authentication.metadata as Record<string, string>).role = 'admin';
      const again = await store.getAuthenticationByClientToken(clientToken);
      expect(again?.metadata.role).toBe('viewer');
      (again?.metadata as Record<string, string>).role = 'admin';
      expect((await store.getAuthenticationById(authentication.id))?.metadata.role).toBe('viewer');
    });

    it('keeps metadata keys an object inherits (__proto__, constructor, prototype) as ordinary entries', async () => {
      // fromEntries, not a literal: in a literal `__proto__: 'p'` sets the prototype and is no entry at all.
      const metadata = Object.fromEntries([
        ['__proto__', 'p'],
        ['constructor', 'c'],
        ['prototype', 'q'],
        ['hasOwnProperty', 'h'],
      ]) as Record<string, string>;
      const { clientToken, authentication } = await create('METHOD_TOKEN', { metadata });
      const found = [
        authentication,
        await store.getAuthenticationById(authentication.id),
        await store.getAuthenticationByClientToken(clientToken),
        (await store.listAuthentications({ method: 'METHOD_TOKEN' })).authentications[0],
      ];
      for (const each of found) {
        expect(Object.entries(each?.metadata ?? {}).sort()).toEqual(Object.entries(metadata).sort());
        expect(Object.getPrototypeOf(each?.metadata)).toBe(Object.prototype);
      }
    });

    it('lists by method, in pages that together hold every authentication exactly once', async () => {
      const tokens: Authentication[] = [];
      for (let i = 0; i < 7; i++)
        tokens.push((await create('METHOD_TOKEN', { metadata: { i: String(i) } })).authentication);
      const oidc = (await create('METHOD_OIDC')).authentication;

      const seen: Authentication[] = [];
      let pageToken = '';
      let pages = 0;
      do {
        const page = await store.listAuthentications({ method: 'METHOD_TOKEN', limit: 3, pageToken });
        expect(page.authentications.length).toBeLessThanOrEqual(3);
        seen.push(...page.authentications);
        pageToken = page.nextPageToken;
        pages++;
      } while (pageToken !== '' && pages < 20);
      expect(pageToken).toBe('');
      const ids = seen.map((a) => a.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids.sort()).toEqual(tokens.map((a) => a.id).sort());
      if (options.ordered) {
        expect(seen.map((a) => a.metadata.i)).toEqual(['0', '1', '2', '3', '4', '5', '6']);
      }

      const listed = (await store.listAuthentications({ method: 'METHOD_OIDC' })).authentications[0];
      (listed?.metadata as Record<string, string>).injected = 'yes';
      expect((await store.getAuthenticationById(oidc.id))?.metadata.injected).toBeUndefined();

      const all = await store.listAuthentications({});
      expect(all.authentications.map((a) => a.id).sort()).toEqual([...tokens, oidc].map((a) => a.id).sort());
      expect(all.nextPageToken).toBe('');
      expect((await store.listAuthentications({ method: 'METHOD_GITHUB' })).authentications).toEqual([]);
    });

    it('pages 25 at a time by default and at most 100', async () => {
      await Promise.all(Array.from({ length: 105 }, () => create('METHOD_TOKEN')));
      const first = await store.listAuthentications({});
      expect(first.authentications).toHaveLength(25);
      expect(first.nextPageToken).not.toBe('');
      const large = await store.listAuthentications({ limit: 1000 });
      expect(large.authentications).toHaveLength(100);
      expect(large.nextPageToken).not.toBe('');
      const rest = await store.listAuthentications({ limit: 100, pageToken: large.nextPageToken });
      expect(rest.authentications).toHaveLength(5);
      expect(rest.nextPageToken).toBe('');
    });

    it('refuses a malformed page token', async () => {
      await expect(store.listAuthentications({ pageToken: 'not-a-token' })).rejects.toMatchObject({
        code: ErrorCodes.INVALID_ARGUMENT,
      });
    });

    it('deletes by id, by method, by expiry, and by provider, subject and session', async () => {
      const a = (await create('METHOD_TOKEN')).authentication;
      const b = (await create('METHOD_TOKEN')).authentication;
      const expired = (await create('METHOD_OIDC', { expiresAt: new Date(Date.now() - hour) }))
        .authentication;
      const live = (await create('METHOD_OIDC', { expiresAt: new Date(Date.now() + hour) })).authentication;
      const session = await store.createAuthentication({
        method: 'METHOD_OIDC',
        metadata: {},
        extras: { provider: 'google', subject: 'mark', sessionId: 'sid-1' },
      });
      const otherProvider = await store.createAuthentication({
        method: 'METHOD_OIDC',
        metadata: {},
        extras: { provider: 'dex', subject: 'mark', sessionId: 'sid-1' },
      });

      expect(await store.deleteAuthentications({ id: a.id })).toBe(1);
      expect(await store.getAuthenticationById(a.id)).toBeUndefined();
      expect(await store.deleteAuthentications({ id: a.id })).toBe(0);

      expect(await store.deleteAuthentications({ method: 'METHOD_OIDC', expiredBefore: new Date() })).toBe(1);
      expect(await store.getAuthenticationById(expired.id)).toBeUndefined();
      expect(await store.getAuthenticationById(live.id)).toBeDefined();

      expect(
        await store.deleteAuthentications({
          method: 'METHOD_OIDC',
          provider: 'google',
          sessionId: 'sid-1',
          subject: 'mark',
        }),
      ).toBe(1);
      expect(await store.getAuthenticationById(session.authentication.id)).toBeUndefined();
      expect(await store.getAuthenticationById(otherProvider.authentication.id)).toBeDefined();
      expect(await store.getAuthenticationByClientToken(session.clientToken)).toBeUndefined();

      expect(await store.deleteAuthentications({ method: 'METHOD_TOKEN' })).toBe(1);
      expect(await store.getAuthenticationById(b.id)).toBeUndefined();
      expect(await store.getAuthenticationById(live.id)).toBeDefined();
    });

    it('deletes by expiry alone, across methods, never what does not expire', async () => {
      const old = (await create('METHOD_OIDC', { expiresAt: new Date(Date.now() - 2 * hour) }))
        .authentication;
      const oldToken = (await create('METHOD_TOKEN', { expiresAt: new Date(Date.now() - hour) }))
        .authentication;
      const recent = (await create('METHOD_GITHUB', { expiresAt: new Date(Date.now() - 60_000) }))
        .authentication;
      const forever = (await create('METHOD_TOKEN')).authentication;
      expect(await store.deleteAuthentications({ expiredBefore: new Date(Date.now() - 30 * 60_000) })).toBe(
        2,
      );
      expect(await store.getAuthenticationById(old.id)).toBeUndefined();
      expect(await store.getAuthenticationById(oldToken.id)).toBeUndefined();
      expect(await store.getAuthenticationById(recent.id)).toBeDefined();
      expect(await store.getAuthenticationById(forever.id)).toBeDefined();
    });

    it('refuses a delete with no id, method or expiry, which would delete everything', async () => {
      await create('METHOD_TOKEN');
      await expect(store.deleteAuthentications({})).rejects.toMatchObject({
        code: ErrorCodes.INVALID_ARGUMENT,
        message: DELETE_NEEDS_PREDICATE,
      });
      await expect(store.deleteAuthentications({ provider: 'google' })).rejects.toMatchObject({
        code: ErrorCodes.INVALID_ARGUMENT,
      });
      expect((await store.listAuthentications({})).authentications).toHaveLength(1);
    });

    it('moves the expiry of an authentication, earlier or later, and its update time', async () => {
      const { clientToken, authentication } = await create('METHOD_TOKEN', {
        expiresAt: new Date(Date.now() + hour),
      });
      await sleep(5);
      const later = new Date(Date.now() + 2 * hour);
      await store.expireAuthentication(authentication.id, later);
      const moved = await store.getAuthenticationByClientToken(clientToken);
      expect(moved?.expiresAt).toEqual(later);
      expect(moved?.updatedAt?.getTime()).toBeGreaterThan(authentication.updatedAt?.getTime() ?? 0);
      expect(moved?.createdAt).toEqual(authentication.createdAt);

      const now = new Date();
      await store.expireAuthentication(authentication.id, now);
      expect((await store.getAuthenticationById(authentication.id))?.expiresAt).toEqual(now);

      await expect(
        store.expireAuthentication('00000000-0000-4000-8000-000000000000', now),
      ).rejects.toMatchObject({
        code: ErrorCodes.NOT_FOUND,
        message: AUTHENTICATION_NOT_FOUND,
      });
    });

    it('keeps an OAuth challenge for one pop only', async () => {
      await store.putChallenge('state-1', 'verifier.nonce', 120_000);
      expect(await store.popChallenge('state-1')).toBe('verifier.nonce');
      expect(await store.popChallenge('state-1')).toBeUndefined();
      expect(await store.popChallenge('never-put')).toBeUndefined();
    });

    it('forgets an OAuth challenge after its time to live', async () => {
      await store.putChallenge('short', 'v', 100);
      await store.putChallenge('long', 'w', 120_000);
      await sleep(250);
      expect(await store.popChallenge('short')).toBeUndefined();
      expect(await store.popChallenge('long')).toBe('w');
    });
  });
}

import { describe, expect, it } from 'vitest';
import { ErrorCodes, PluginError } from '../errors.ts';
import type { Authentication } from './contracts.ts';
import {
  authenticationProblem,
  checkMethodInstance,
  frozenAuthentication,
  isFrozenAuthentication,
} from './instance.ts';

describe('checkMethodInstance', () => {
  it('accepts the hooks, as own members or on a prototype, and names the members it does not know', () => {
    expect(checkMethodInstance({}, 'magic')).toEqual([]);
    expect(
      checkMethodInstance(
        { schemes: ['Magic'], authenticate: async () => null, identify: () => ({}) },
        'magic',
      ),
    ).toEqual(['identify']);
    class Instance {
      readonly schemes = ['Magic'];
      authenticate() {
        return Promise.resolve(null);
      }
    }
    expect(checkMethodInstance(new Instance(), 'magic')).toEqual([]);
  });

  it.each([
    [undefined, 'must return an object'],
    [{ identity: 'user' }, 'returned identity, which must be a function when present'],
    [{ schemes: 'Magic', authenticate: async () => null }, 'returned schemes, which must be a list'],
    [{ schemes: ['Magic'] }, 'returned schemes without authenticate'],
  ])('refuses %j', (instance, message) => {
    expect(() => checkMethodInstance(instance, 'magic')).toThrow(message);
    expect(() => checkMethodInstance(instance, 'magic')).toThrow(
      expect.objectContaining({ code: 'ERR_PLUGIN_INVALID', plugin: 'magic' }),
    );
  });
});

describe('frozenAuthentication', () => {
  const createdAt = new Date('2026-08-22T10:00:00.123Z');
  const given = {
    id: 'ci',
    method: 'METHOD_TOKEN',
    createdAt,
    metadata: { role: 'admin' },
    // biome-ignore lint/suspicious/noThenProperty: what the copy must leave out
    then: () => undefined,
  } as Authentication;

  it('copies the fields, frozen, with read-only dates, and leaves what it was given alone', () => {
    const frozen = frozenAuthentication(given);
    expect(frozen).toEqual({ id: 'ci', method: 'METHOD_TOKEN', createdAt, metadata: { role: 'admin' } });
    // Its fields only: a `then` would make it a thenable, which the pipeline would have to wait for.
    expect('then' in frozen).toBe(false);
    expect(Object.isFrozen(frozen) && Object.isFrozen(frozen.metadata)).toBe(true);
    expect(frozen.createdAt).toBeInstanceOf(Date);
    expect(frozen.createdAt).not.toBe(createdAt);
    for (const setter of ['setTime', 'setMilliseconds', 'setUTCFullYear', 'setYear'] as const) {
      expect(() => (frozen.createdAt as unknown as Record<string, (n: number) => void>)[setter]?.(0)).toThrow(
        /read-only date/,
      );
    }
    expect(frozen.createdAt?.toISOString()).toBe('2026-08-22T10:00:00.123Z');
    expect(JSON.stringify(frozen.createdAt)).toBe('"2026-08-22T10:00:00.123Z"');
    expect(Object.isFrozen(given) || Object.isFrozen(given.metadata)).toBe(false);
    expect(authenticationProblem(frozen)).toBeUndefined();
    expect(isFrozenAuthentication(frozen)).toBe(true);
    // A copy of one is not one: its fields could change.
    expect(isFrozenAuthentication({ ...frozen })).toBe(false);
    expect(isFrozenAuthentication(given)).toBe(false);
  });

  it.each([
    [{ id: 1, method: 'METHOD_TOKEN', metadata: {} }, 'given an authentication without a string id'],
    [{ id: 'x', method: 'METHOD_TOKEN', metadata: { n: 1 } }, 'metadata is not an object of strings'],
    [
      { id: 'x', method: 'METHOD_TOKEN', metadata: {}, expiresAt: new Date(Number.NaN) },
      'expiresAt is not a valid Date',
    ],
    [null, 'given null'],
    [[], 'given an array'],
    [
      { id: 'x', method: 'METHOD_TOKEN', metadata: {}, expiresAt: '2026-08-22' },
      'expiresAt is not a valid Date',
    ],
    [
      { id: 'x', method: 'METHOD_TOKEN', metadata: {}, createdAt: Object.create(Date.prototype) },
      'cannot be read',
    ],
  ])('refuses case %# with ERR_PLUGIN_INVALID', (value, message) => {
    expect(() => frozenAuthentication(value as unknown as Authentication)).toThrow(
      expect.objectContaining({ code: 'ERR_PLUGIN_INVALID', message: expect.stringContaining(message) }),
    );
  });

  it('checks the copy it made, so that an answer that changes between two reads cannot slip past the check', () => {
    const flipping = <T>(first: T, then: unknown) => {
      let reads = 0;
      return () => (reads++ === 0 ? first : then);
    };
    const id = flipping('a', 42);
    const idFlips = {
      method: 'METHOD_TOKEN',
      metadata: {},
      get id() {
        return id();
      },
    };
    // Read once: the copy has what the one read gave, and it is an authentication.
    expect(frozenAuthentication(idFlips as unknown as Authentication).id).toBe('a');
    const expiry = flipping(undefined, new Date(Number.NaN));
    const expiryFlips = {
      id: 'x',
      method: 'METHOD_TOKEN',
      metadata: {},
      get expiresAt() {
        return expiry();
      },
    };
    expect(frozenAuthentication(expiryFlips as unknown as Authentication)).not.toHaveProperty('expiresAt');
    const value = flipping('v', 1);
    const metadataFlips = {
      id: 'x',
      method: 'METHOD_TOKEN',
      metadata: {
        get k() {
          return value();
        },
      },
    };
    expect(frozenAuthentication(metadataFlips as unknown as Authentication).metadata).toEqual({ k: 'v' });
    // A Proxy whose keys grow after they are listed: the copy holds the keys it listed, checked.
    let listed = 0;
    const growing = new Proxy({ a: 'b' } as Record<string, unknown>, {
      ownKeys: (target) => (listed++ === 0 ? Reflect.ownKeys(target) : [...Reflect.ownKeys(target), 'z']),
      get: (target, key) => (key === 'z' ? 5 : target[key as string]),
      getOwnPropertyDescriptor: (target, key) =>
        key === 'z'
          ? { value: 5, enumerable: true, configurable: true }
          : Reflect.getOwnPropertyDescriptor(target, key),
    });
    const frozen = frozenAuthentication({
      id: 'x',
      method: 'METHOD_TOKEN',
      metadata: growing as Record<string, string>,
    });
    expect(frozen.metadata).toEqual({ a: 'b' });
    // A Date whose own getTime lies: the time is read as the Date holds it.
    class Lying extends Date {
      override getTime() {
        return Number.NaN;
      }
    }
    const at = new Lying('2026-08-22T10:00:00.000Z');
    expect(
      frozenAuthentication({ id: 'x', method: 'M', metadata: {}, createdAt: at }).createdAt?.toISOString(),
    ).toBe('2026-08-22T10:00:00.000Z');
    // A value that is not a string, whenever it is read, is refused.
    const bad = flipping(1, 'v');
    expect(() =>
      frozenAuthentication({
        id: 'x',
        method: 'M',
        metadata: {
          get k() {
            return bad();
          },
        },
      } as unknown as Authentication),
    ).toThrow(
      expect.objectContaining({ code: 'ERR_PLUGIN_INVALID', message: expect.stringContaining('metadata') }),
    );
  });

  it('decides on one look whether a date is one, and refuses with ERR_PLUGIN_INVALID whatever the input throws', () => {
    // A Proxy that is not a Date on the first look and is one on the second: refused, never kept as it is.
    let looks = 0;
    const time = { t: Date.now() + 3_600_000 };
    const shifty = new Proxy(time, {
      getPrototypeOf: () => (looks++ === 0 ? Object.prototype : Date.prototype),
      get: (target, key) => (key === 'getTime' ? () => target.t : undefined),
    });
    expect(() =>
      frozenAuthentication({ id: 'x', method: 'M', metadata: {}, expiresAt: shifty as unknown as Date }),
    ).toThrow(
      expect.objectContaining({ code: 'ERR_PLUGIN_INVALID', message: expect.stringContaining('expiresAt') }),
    );
    const revoked = Proxy.revocable({}, {});
    revoked.revoke();
    const throwing = (thrown: unknown) => ({
      method: 'M',
      metadata: {},
      get id(): string {
        throw thrown;
      },
    });
    const unreadable = new Error('x');
    Object.defineProperty(unreadable, 'message', {
      get() {
        throw new Error('no');
      },
    });
    for (const input of [
      revoked.proxy,
      throwing(Object.create(null)),
      throwing(Symbol('s')),
      throwing(unreadable),
      throwing(revoked.proxy),
      throwing(new PluginError(ErrorCodes.UNAUTHENTICATED, 'a getter’s own coded error')),
    ]) {
      expect(() => frozenAuthentication(input as unknown as Authentication)).toThrow(
        expect.objectContaining({
          code: 'ERR_PLUGIN_INVALID',
          message: expect.stringMatching(/^frozenAuthentication: /),
        }),
      );
    }
    // Symbol keys are not copied: the check does not see them, so they cannot ride along.
    const secret = Symbol('s');
    const copied = frozenAuthentication({
      id: 'x',
      method: 'M',
      metadata: { a: 'b', [secret]: 42 } as never,
    });
    expect(Object.getOwnPropertySymbols(copied.metadata)).toEqual([]);
  });
});

import { describe, expect, it } from 'vitest';
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
  ])('refuses %j with ERR_PLUGIN_INVALID', (value, message) => {
    expect(() => frozenAuthentication(value as unknown as Authentication)).toThrow(
      expect.objectContaining({ code: 'ERR_PLUGIN_INVALID', message: expect.stringContaining(message) }),
    );
  });
});

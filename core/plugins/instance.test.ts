import { describe, expect, it } from 'vitest';
import { checkMethodInstance } from './instance.ts';

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

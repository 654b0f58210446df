import { describe, expect, it } from 'vitest';
import { ErrorCodes, SecretResolutionError } from '../errors.ts';
import type { SecretSource } from '../plugins/contracts.ts';
import { sharedCalls } from '../plugins/kit/shared-calls.ts';
import { findSecretReferences } from './find.ts';
import { parseSecretReference } from './parse.ts';
import { MAX_FETCHES_PER_STORE, resolveSecretReferences } from './resolve.ts';
import { secretNotFound } from './select-key.ts';

describe('parseSecretReference', () => {
  it('reads the two-part form (path only) and the three-part form (path and key)', () => {
    expect(parseSecretReference('${secret:file:ci-token}')).toEqual({
      ok: true,
      reference: { raw: '${secret:file:ci-token}', provider: 'file', path: 'ci-token' },
    });
    expect(parseSecretReference('${secret:vault:flipt/tokens:ci_token}')).toEqual({
      ok: true,
      reference: {
        raw: '${secret:vault:flipt/tokens:ci_token}',
        provider: 'vault',
        path: 'flipt/tokens',
        key: 'ci_token',
      },
    });
    expect(parseSecretReference('${secret:file:tokens/ci.txt}')).toMatchObject({ ok: true });
  });

  it('is not interested in values that are not whole references', () => {
    for (const value of ['plain', 'x${secret:file:a}', '${secret:file:a}x', '${env:A}', '$secret:file:a']) {
      expect(parseSecretReference(value)).toBeUndefined();
    }
  });

  it('explains what is wrong with a malformed one', () => {
    expect(parseSecretReference('${secret:ci-token}')).toMatchObject({
      ok: false,
      message: expect.stringContaining('provider is required'),
    });
    expect(parseSecretReference('${secret:a:b:c:d}')).toMatchObject({
      ok: false,
      message: expect.stringContaining("expected 'provider:key' or 'provider:path:key'"),
    });
    expect(parseSecretReference('${secret:file:a b}')).toMatchObject({
      ok: false,
      message: expect.stringContaining('only letters'),
    });
    expect(parseSecretReference('${secret:}')).toMatchObject({ ok: false });
    expect(parseSecretReference('${secret::x}')).toMatchObject({
      ok: false,
      message: expect.stringContaining('must not be empty'),
    });
  });
});

describe('findSecretReferences', () => {
  it('finds references in maps and lists with their paths', () => {
    const sites = findSecretReferences({ a: { b: '${secret:file:x}', c: ['y', '${secret:file:z}'] }, d: 5 });
    expect(sites.map((s) => s.path)).toEqual([
      ['a', 'b'],
      ['a', 'c', 1],
    ]);
  });
});

/** A source that records calls and answers from a table. */
function tableSource(table: Record<string, string>, calls: string[] = []): SecretSource {
  return {
    async get(path, key) {
      calls.push(key === undefined ? path : `${path}:${key}`);
      const value = table[key === undefined ? path : `${path}:${key}`];
      if (value === undefined) throw secretNotFound(`secret not found at path "${path}"`);
      return value;
    },
  };
}

describe('resolveSecretReferences', () => {
  const config = {
    a: '${secret:file:one}',
    b: ['${secret:file:one}', '${secret:vault:db:password}'],
    c: { d: '${secret:file:one}', e: 'literal' },
  };

  it('fetches each distinct reference once and puts the values in a copy', async () => {
    const calls: string[] = [];
    const sources = new Map([
      ['file', tableSource({ one: 'value-one' }, calls)],
      ['vault', tableSource({ 'db:password': 'value-two' }, calls)],
    ]);
    const { config: resolved, values } = await resolveSecretReferences(
      config,
      findSecretReferences(config),
      sources,
    );
    expect(resolved).toEqual({
      a: 'value-one',
      b: ['value-one', 'value-two'],
      c: { d: 'value-one', e: 'literal' },
    });
    expect(config.a).toBe('${secret:file:one}');
    expect(calls.sort()).toEqual(['db:password', 'one']);
    expect([...values].sort()).toEqual(['value-one', 'value-two']);
  });

  it('fetches all references at the same time', async () => {
    const many = Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`k${i}`, `\${secret:slow:s${i}}`]));
    let waiting = 0;
    const release: Array<() => void> = [];
    const slow: SecretSource = {
      get(path) {
        return new Promise((resolve, reject) => {
          waiting++;
          release.push(() => resolve(`v-${path}`));
          if (waiting === 5) for (const go of release) go();
          setTimeout(() => reject(new Error('fetched one at a time')), 2000).unref();
        });
      },
    };
    const { config: resolved } = await resolveSecretReferences(
      many,
      findSecretReferences(many),
      new Map([['slow', slow]]),
    );
    expect(Object.values(resolved)).toEqual(['v-s0', 'v-s1', 'v-s2', 'v-s3', 'v-s4']);
  });

  it('asks one store at most MAX_FETCHES_PER_STORE at a time, so thousands of references do not open thousands of connections', async () => {
    const many = Object.fromEntries(
      Array.from({ length: 500 }, (_, i) => [`k${i}`, `\${secret:counted:s${i}}`]),
    );
    let now = 0;
    let most = 0;
    const counted: SecretSource = {
      async get(path) {
        now += 1;
        most = Math.max(most, now);
        await new Promise((resolve) => setTimeout(resolve, 1));
        now -= 1;
        return `v-${path}`;
      },
    };
    const { config: resolved } = await resolveSecretReferences(
      many,
      findSecretReferences(many),
      new Map([['counted', counted]]),
    );
    expect(Object.values(resolved)).toHaveLength(500);
    expect((resolved as Record<string, string>).k499).toBe('v-s499');
    expect(most).toBe(MAX_FETCHES_PER_STORE);
  });

  it('asks for the keys of one secret together, whatever their place in the queue, so that a store reads it once', async () => {
    const reads = new Map<string, number>();
    const shared = sharedCalls<string>();
    const store: SecretSource = {
      get(path, key) {
        return shared(path, async () => {
          reads.set(path, (reads.get(path) ?? 0) + 1);
          // The other secrets are slow; the pair is quick: read apart, its keys would come from two reads.
          await new Promise((resolve) => setTimeout(resolve, path === 'zz-pair' ? 1 : 30));
          return JSON.stringify({ id: `${path}-id`, secret: `${path}-secret` });
        }).then((whole) =>
          key === undefined ? whole : ((JSON.parse(whole) as Record<string, string>)[key] as string),
        );
      },
    };
    const input: Record<string, string> = {};
    for (let i = 0; i < 15; i += 1) input[`s${i}`] = `\${secret:store:slow-${String(i).padStart(2, '0')}:id}`;
    // Last in path order: the 16th and 17th of the queue, on either side of the first batch's end.
    input.id = '${secret:store:zz-pair:id}';
    input.secret = '${secret:store:zz-pair:secret}';
    const { config: resolved } = await resolveSecretReferences(
      input,
      findSecretReferences(input),
      new Map([['store', store]]),
    );
    expect((resolved as Record<string, string>).secret).toBe('zz-pair-secret');
    expect(reads.get('zz-pair')).toBe(1);
  });

  it('reports every failure, naming reference, provider and places, and never a value', async () => {
    const input = {
      ok: '${secret:file:present}',
      missing: '${secret:file:absent}',
      twice: ['${secret:file:absent}'],
      off: '${secret:vault:db:password}',
    };
    const sources = new Map([['file', tableSource({ present: 'the-present-value' })]]);
    const error = await resolveSecretReferences(input, findSecretReferences(input), sources).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SecretResolutionError);
    const { failures, message } = error as SecretResolutionError;
    expect(failures).toEqual([
      {
        reference: '${secret:file:absent}',
        provider: 'file',
        paths: [['missing'], ['twice', 0]],
        message: 'secret not found at path "absent"',
        code: ErrorCodes.SECRET_NOT_FOUND,
      },
      {
        reference: '${secret:vault:db:password}',
        provider: 'vault',
        paths: [['off']],
        message: 'provider "vault" not found (enable it under secrets.providers.vault)',
        code: ErrorCodes.SECRET_PROVIDER,
      },
    ]);
    expect(message).not.toContain('the-present-value');
    expect(message).toContain(
      'resolving secret reference "${secret:file:absent}" (provider "file", at missing, twice[0])',
    );
  });
});

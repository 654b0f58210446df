import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isReasonId, Reasons } from './auth/reasons.ts';
import { ERROR_STATUS, errorStatus } from './error-status.ts';
import { type ErrorCode, ErrorCodes, errorMessage } from './errors.ts';
import { FOREIGN_ERROR_CODES } from './foreign-error-codes.ts';
import { grpcCodeName } from './grpc-status.ts';
import { readmeSection, sourceFiles, tableRows } from './test-support/sources.ts';

const DECLARED: ReadonlySet<string> = new Set(Object.values(ErrorCodes));
/** A code name: ours and Node's begin with `ERR_`, undici's with `UND_ERR_` (a bare prefix is a family, not a code). */
// A name followed by `*`, `…` or `_…` is a family of codes (`ERR_JW*`, `ERR_JOSE_…`), not a code.
const CODE_NAME = /\b(?:UND_)?ERR_[A-Z0-9_]*[A-Z0-9](?![A-Z0-9_]*(?:\*|…))/g;
const FOREIGN_LIST = 'core/foreign-error-codes.ts';

/** The README's error table: code → [meaning, gRPC status, HTTP status]. */
function readmeCodes(): Map<string, string[]> {
  return new Map(
    tableRows(readmeSection('Errors'))
      .filter((row) => row.key.startsWith('ERR_'))
      .map((row) => [row.key, row.cells]),
  );
}

/** Every code name mentioned in the sources (literals, regular expressions and comments alike), with where. */
function mentionedCodes(): Map<string, string[]> {
  const mentions = new Map<string, string[]>();
  for (const file of sourceFiles()) {
    if (file.path === FOREIGN_LIST) continue;
    for (const [name] of file.text.matchAll(CODE_NAME)) {
      mentions.set(name, [...new Set([...(mentions.get(name) ?? []), file.path])]);
    }
  }
  return mentions;
}

describe('error codes', () => {
  it('every declared code has a status, and the status table holds no other code', () => {
    expect(Object.keys(ERROR_STATUS).sort()).toEqual([...DECLARED].sort());
  });

  it('every declared code has a TSDoc line', () => {
    const source = readFileSync(new URL('./errors.ts', import.meta.url), 'utf8');
    for (const [key, code] of Object.entries(ErrorCodes)) {
      expect(source, `the TSDoc of ${code}`).toMatch(new RegExp(`\\*/\\n  ${key}: '${code}',`));
    }
  });

  it("the README's table lists every declared code with its statuses, and no other", () => {
    const rows = readmeCodes();
    for (const code of DECLARED) {
      const row = rows.get(code);
      expect(row, `a README row for ${code}`).toBeDefined();
      const status = errorStatus(code as ErrorCode);
      const grpc = `\`${grpcCodeName(status.grpc)}\` (${status.grpc})${status.shown ? '' : ', hidden'}`;
      expect(row?.slice(1), `the statuses of ${code} in the README`).toEqual([grpc, String(status.http)]);
      expect(row?.[0], `the meaning of ${code} in the README`).not.toBe('');
    }
    expect([...rows.keys()].filter((code) => !DECLARED.has(code))).toEqual([]);
  });

  it('every code the sources name is declared, or a foreign code listed with where it comes from', () => {
    // Tests are read too: one asserting a code that does not exist would pass for the wrong reason.
    const unknown = [...mentionedCodes()]
      .filter(([name]) => !DECLARED.has(name) && !Object.hasOwn(FOREIGN_ERROR_CODES, name))
      .map(([name, files]) => `${name} (${files.join(', ')})`);
    expect(unknown).toEqual([]);
  });

  it('every foreign code listed is still read somewhere, and none is also one of ours', () => {
    const mentions = mentionedCodes();
    for (const [code, origin] of Object.entries(FOREIGN_ERROR_CODES)) {
      expect(mentions.has(code), `${code} is mentioned in the sources`).toBe(true);
      expect(DECLARED.has(code), `${code} is foreign`).toBe(false);
      expect(origin).toMatch(/^(jose|Node|Node's HTTP server|undici): /);
    }
  });
});

/** The README's reason table: id → [from, meaning]. */
function readmeReasons(): Map<string, string[]> {
  return new Map(
    tableRows(readmeSection('Errors'))
      .filter((row) => !row.key.startsWith('ERR_'))
      .map((row) => [row.key, row.cells]),
  );
}

/**
 * Where the built-in code names a reason id of its own: `reason: '…'` outside tests, with the plugins it is in, as
 * the README's "From" cell writes them (`` `oidc`, `github` ``, in the order the files are read).
 */
function ownReasons(): Map<string, string> {
  const found = new Map<string, string[]>();
  for (const file of sourceFiles()) {
    if (!/^(core|plugins|secrets)\//.test(file.path) || file.path.endsWith('.test.ts')) continue;
    for (const [, id] of file.text.matchAll(/\breason: ['"]([^'"]*)['"]/g)) {
      const where = /^(?:plugins|secrets)\/([^/]+)\//.exec(file.path)?.[1] ?? file.path;
      const places = found.get(id as string) ?? [];
      if (!places.includes(where)) places.push(where);
      found.set(id as string, places);
    }
  }
  return new Map([...found].map(([id, places]) => [id, places.sort().join('`, `')]));
}

describe('reason ids', () => {
  it("the README's table lists the core's ids and those the built-ins give, each with where it comes from", () => {
    const rows = readmeReasons();
    for (const id of Object.values(Reasons)) {
      expect(rows.get(id)?.[0], `the README row for ${id}`).toMatch(/^(core|kit)$/);
    }
    for (const [id, plugin] of ownReasons()) {
      expect(isReasonId(id), `${id} (${plugin}) is a reason id`).toBe(true);
      expect(rows.get(id)?.[0], `the README row for ${id}`).toBe(`\`${plugin}\``);
    }
  });

  it("the README's table lists no other id, and an id named after a code is that code's", () => {
    const core: ReadonlySet<string> = new Set(Object.values(Reasons));
    const own = ownReasons();
    for (const [id, [from, meaning]] of readmeReasons()) {
      expect(isReasonId(id), `${id} is a reason id`).toBe(true);
      expect(meaning, `the meaning of ${id}`).toBeTruthy();
      const code = /^`(ERR_[A-Z0-9_]+)`$/.exec(from ?? '')?.[1];
      if (code !== undefined) {
        expect(DECLARED.has(code) || Object.hasOwn(FOREIGN_ERROR_CODES, code), `${code} exists`).toBe(true);
        expect(id, `the id named after ${code}`).toBe(code.slice('ERR_'.length).toLowerCase());
      } else {
        expect(core.has(id) || own.has(id), `${id} is defined in the sources`).toBe(true);
      }
    }
  });
});

describe('errorMessage', () => {
  it('reads any thrown value, and never throws itself', () => {
    expect(errorMessage(new Error('boom'))).toBe('boom');
    expect(errorMessage('plain')).toBe('plain');
    expect(errorMessage(Symbol('s'))).toBe('Symbol(s)');
    const revoked = Proxy.revocable({}, {});
    revoked.revoke();
    const unreadable = new Error('x');
    Object.defineProperty(unreadable, 'message', {
      get() {
        throw new Error('no');
      },
    });
    for (const thrown of [Object.create(null), revoked.proxy, unreadable]) {
      expect(errorMessage(thrown)).toBe('a thrown value that cannot be read');
    }
  });
});

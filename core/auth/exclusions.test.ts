import { describe, expect, it } from 'vitest';
import { createExclusionMatcher } from './exclusions.ts';

const exclude = (evaluation: boolean, ofrep: boolean, extra: string[] = []) =>
  createExclusionMatcher({ exclude: { evaluation, ofrep, management: false, metadata: false } }, extra);

describe('exclusions', () => {
  it("skip Flipt's evaluation sections when exclude.evaluation is on", () => {
    const excluded = exclude(true, false);
    for (const url of [
      '/evaluate/v1/boolean',
      '/evaluate/v1/variant?x=/../..',
      '/evaluate/v1/batch',
      '/client/v2/environments/default/namespaces/default/snapshot',
      '/client/v2/environments/default/namespaces/default/stream',
      '/internal/v1/evaluation/snapshot/namespace/default',
      '/evaluate/v1',
      '/evaluate/v1/',
      "/evaluate/v1/flag-key_1,other:x@y!$&'()*+=~",
    ]) {
      expect(excluded(url), url).toBe(true);
    }
    for (const url of [
      '/api/v1/flags',
      '/evaluate/v10/boolean',
      '/ofrep/v1/evaluate/flags',
      '/auth/v1/self',
      '/',
    ]) {
      expect(excluded(url), url).toBe(false);
    }
  });

  it('skip OFREP when exclude.ofrep is on, and nothing when both are off', () => {
    expect(exclude(false, true)('/ofrep/v1/evaluate/flags/my-flag')).toBe(true);
    expect(exclude(false, true)('/ofrep/v1/_stream/default/default/events')).toBe(true);
    expect(exclude(false, true)('/evaluate/v1/boolean')).toBe(false);
    expect(exclude(false, false)('/evaluate/v1/boolean')).toBe(false);
  });

  it('exclude no path that a router could read as another: those are always authenticated', () => {
    const excluded = exclude(true, false);
    for (const url of [
      // climbing into an excluded section from a protected one, as Fastify routes them as written
      '/api/v1/x/../../../evaluate/v1/boolean',
      '/api/v1/x/%2e%2e/%2E%2E/%2e%2e/evaluate/v1/boolean',
      '/api/v1/flags;/../../../evaluate/v1/boolean',
      '/api/v1/../../evaluate/v1/boolean',
      // and climbing out of one
      '/evaluate/v1/../../api/v1/flags',
      '/evaluate/v1/..%2F..%2Fapi/v1/flags',
      '/evaluate/v1/..%5C..%5Capi/v1/flags',
      '/evaluate/v1\\..\\..\\api',
      '/evaluate/v1/./boolean',
      '/evaluate//v1/boolean',
      '//evaluate/v1/boolean',
      '/evaluate/v1/boolean;x=1',
    ]) {
      expect(excluded(url), url).toBe(false);
    }
  });

  // Issue 14: a path an upstream, a second proxy or a framework decodes into another one. Only a path that decodes to
  // itself can be excluded, so every percent-encoding is refused, whatever it encodes.
  const REFUSED_SPELLINGS: ReadonlyArray<[string, string]> = [
    ['double-encoded dot segments (the fuzzer’s input)', '/evaluate/v1/%252e%252e/%252e%252e/api/v1/flags'],
    ['double-encoded, upper case', '/evaluate/v1/%252E%252E/%252E%252E/api/v1/flags'],
    ['double-encoded slash', '/evaluate/v1/..%252f..%252fapi/v1/flags'],
    ['double-encoded backslash', '/evaluate/v1/..%255c..%255capi/v1/flags'],
    ['triple-encoded dot', '/evaluate/v1/%25252e%25252e/%25252e%25252e/api/v1/flags'],
    ['half-encoded double encoding', '/evaluate/v1/%%32%65%%32%65/%%32%65%%32%65/api/v1/flags'],
    ['mixed-case hex', '/evaluate/v1/%2E%2e/%2e%2E/api/v1/flags'],
    ['one encoded dot beside a plain one', '/evaluate/v1/.%2e/.%2e/api/v1/flags'],
    ['overlong UTF-8 dot, two bytes', '/evaluate/v1/%c0%ae%c0%ae/%c0%ae%c0%ae/api/v1/flags'],
    ['overlong UTF-8 dot, three bytes', '/evaluate/v1/%e0%80%ae%e0%80%ae/api/v1/flags'],
    ['overlong UTF-8 slash', '/evaluate/v1/..%c0%af..%c0%afapi/v1/flags'],
    ['overlong UTF-8 backslash', '/evaluate/v1/..%c1%9c..%c1%9capi/v1/flags'],
    ['IIS %u encoding of a dot', '/evaluate/v1/%u002e%u002e/%u002e%u002e/api/v1/flags'],
    ['IIS %u encoding of a slash', '/evaluate/v1/..%u2215..%u2215api/v1/flags'],
    ['an encoded unreserved letter', '/evaluate/v1/%61ny'],
    ['an encoded unreserved digit', '/evaluate/v1/flag%31'],
    ['an encoded hyphen', '/evaluate/v1/my%2dflag'],
    ['an encoded tilde', '/evaluate/v1/%7e'],
    ['an encoded prefix', '/%65valuate/v1/boolean'],
    ['an encoded space', '/evaluate/v1/a%20b'],
    ['an encoded NUL', '/evaluate/v1/boolean%00.json'],
    ['an encoded question mark', '/evaluate/v1/x%3f/../../api/v1/flags'],
    ['a stray %', '/evaluate/v1/100%'],
    ['a % before non-hex', '/evaluate/v1/%zz'],
    ['a lone %25', '/evaluate/v1/%25'],
    ['raw UTF-8 bytes', '/evaluate/v1/caf\u00c3\u00a9'],
    ['a raw non-ASCII character', '/evaluate/v1/café'],
    ['a fullwidth full stop (NFKC: .)', '/evaluate/v1/\uff0e\uff0e/api/v1/flags'],
    ['a one dot leader (NFKC: .)', '/evaluate/v1/\u2024\u2024/api/v1/flags'],
    ['a raw Latin-1 byte', '/evaluate/v1/\u00ae'],
    ['a control character', '/evaluate/v1/\u0001'],
    ['a tab', '/evaluate/v1/\tx'],
    ['a space', '/evaluate/v1/a b'],
    ['a backslash', '/evaluate/v1\\..\\..\\api'],
    ['a pipe', '/evaluate/v1/a|b'],
    ['braces', '/evaluate/v1/{x}'],
    ['a caret', '/evaluate/v1/^'],
    ['a backtick', '/evaluate/v1/`'],
    ['angle brackets', '/evaluate/v1/<x>'],
    ['a double quote', '/evaluate/v1/"x"'],
    ['a semicolon', '/evaluate/v1;/../../api/v1/flags'],
    ['a dot segment', '/evaluate/v1/../../api/v1/flags'],
    ['a trailing dot segment', '/evaluate/v1/..'],
    ['a run of three dots', '/evaluate/v1/.../api'],
    ['an empty segment', '/evaluate//v1/boolean'],
    ['absolute-form', 'http://portcullis/evaluate/v1/boolean'],
    ['no leading slash', 'evaluate/v1/boolean'],
    ['asterisk-form', '*'],
  ];

  it.each(REFUSED_SPELLINGS)('never excludes a path that decodes to another: %s', (_what, url) => {
    const excluded = exclude(true, true, ['/public']);
    expect(excluded(url)).toBe(false);
    // The same spelling in a gateway section and in OFREP.
    expect(excluded(url.replace('/evaluate/v1', '/public'))).toBe(false);
    expect(excluded(url.replace('/evaluate/v1', '/ofrep/v1'))).toBe(false);
  });

  it('adds the prefixes of excluded gateway sections', () => {
    const excluded = exclude(false, false, ['/public', '/assets/img']);
    expect(excluded('/public/index.html')).toBe(true);
    expect(excluded('/assets/img/logo.png')).toBe(true);
    expect(excluded('/assets/js/app.js')).toBe(false);
    expect(excluded('/publicity')).toBe(false);
  });
});

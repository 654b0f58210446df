import { describe, expect, it } from 'vitest';
import { authenticationJson, formatTimestamp, goJson, parseTimestamp } from './json.ts';

describe('authentication JSON', () => {
  it('writes protojson: camelCase, Flipt field order, unset timestamps omitted, metadata keys sorted', () => {
    const json = authenticationJson({
      id: 'bootstrap',
      method: 'METHOD_TOKEN',
      createdAt: new Date('2026-08-22T10:00:00.123Z'),
      updatedAt: new Date('2026-08-22T10:00:00Z'),
      metadata: { role: 'admin', environment: 'prod' },
    });
    expect(JSON.stringify(json)).toBe(
      '{"id":"bootstrap","method":"METHOD_TOKEN","createdAt":"2026-08-22T10:00:00.123Z","updatedAt":"2026-08-22T10:00:00Z","metadata":{"environment":"prod","role":"admin"}}',
    );
    expect(JSON.stringify(authenticationJson({ id: '', method: 'METHOD_JWT', metadata: {} }))).toBe(
      '{"id":"","method":"METHOD_JWT","metadata":{}}',
    );
  });

  it('formats RFC 3339 in UTC without a zero fraction', () => {
    expect(formatTimestamp(new Date(Date.UTC(2026, 0, 2, 3, 4, 5)))).toBe('2026-01-02T03:04:05Z');
    expect(formatTimestamp(new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 60)))).toBe('2026-01-02T03:04:05.060Z');
  });

  it('reads RFC 3339 timestamps only', () => {
    expect(parseTimestamp('2026-01-02T03:04:05Z')).toEqual(new Date('2026-01-02T03:04:05Z'));
    expect(parseTimestamp('2026-01-02T05:04:05.5+02:00')).toEqual(new Date('2026-01-02T03:04:05.500Z'));
    for (const text of [
      '2026-01-02',
      'tomorrow',
      '2026-01-02 03:04:05Z',
      '2026-13-02T03:04:05Z',
      '1700000000',
    ]) {
      expect(parseTimestamp(text)).toBeUndefined();
    }
  });

  it('writes claims as Go does, keeping keys an object inherits (__proto__, constructor) as ordinary keys', () => {
    const claims = JSON.parse(
      '{"sub":"a","__proto__":{"role":"admin","constructor":{"x":1}},"constructor":"c","prototype":[{"__proto__":1}]}',
    ) as unknown;
    expect(goJson(claims)).toBe(
      '{"__proto__":{"constructor":{"x":1},"role":"admin"},"constructor":"c","prototype":[{"__proto__":1}],"sub":"a"}',
    );
    expect(({} as Record<string, unknown>).role).toBeUndefined();
  });
});

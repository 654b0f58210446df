import { describe, expect, it } from 'vitest';
import { readTimestamp, timestampField } from './timestamp.ts';

const iso = (text: string) => {
  const reading = readTimestamp(text);
  return 'date' in reading ? reading.date.toISOString() : reading.problem;
};

describe('timestamps as protojson reads them (Go time.Parse RFC3339Nano, 9 digits, years 0001 to 9999)', () => {
  it('reads RFC 3339 with Z or an offset, a fraction of 1 to 9 digits, and the edges of the range', () => {
    const cases: Array<[string, string]> = [
      ['2099-02-28T00:00:00Z', '2099-02-28T00:00:00.000Z'],
      ['2096-02-29T23:59:59Z', '2096-02-29T23:59:59.000Z'],
      ['2000-02-29T12:00:00Z', '2000-02-29T12:00:00.000Z'],
      ['2026-04-30T10:00:00.5+02:00', '2026-04-30T08:00:00.500Z'],
      ['2026-01-01T00:30:00.123456789-01:30', '2026-01-01T02:00:00.123Z'],
      ['2026-12-31T23:59:59+23:59', '2026-12-31T00:00:59.000Z'],
      ['0001-01-01T00:00:00Z', '0001-01-01T00:00:00.000Z'],
      ['0050-06-01T00:00:00Z', '0050-06-01T00:00:00.000Z'],
      ['0000-12-31T23:00:00-01:00', '0001-01-01T00:00:00.000Z'],
      ['9999-12-31T23:59:59.999999999Z', '9999-12-31T23:59:59.999Z'],
    ];
    for (const [text, date] of cases) expect(iso(text), text).toBe(date);
  });

  it('refuses every impossible date or time, saying which part is wrong', () => {
    const cases: Array<[string, string]> = [
      ['2099-02-30T00:00:00Z', 'not a valid time: February 2099 has no day 30 (it has 28 days)'],
      ['2099-02-29T00:00:00Z', 'not a valid time: February 2099 has no day 29 (it has 28 days)'],
      ['2100-02-29T00:00:00Z', 'not a valid time: February 2100 has no day 29 (it has 28 days)'],
      ['2026-04-31T00:00:00Z', 'not a valid time: April 2026 has no day 31 (it has 30 days)'],
      ['2026-06-31T00:00:00Z', 'not a valid time: June 2026 has no day 31 (it has 30 days)'],
      ['2026-01-32T00:00:00Z', 'not a valid time: January 2026 has no day 32 (it has 31 days)'],
      ['2026-01-00T00:00:00Z', 'not a valid time: January 2026 has no day 0 (it has 31 days)'],
      ['2026-13-01T00:00:00Z', 'not a valid time: month 13 does not exist'],
      ['2026-00-01T00:00:00Z', 'not a valid time: month 0 does not exist'],
      ['2026-01-01T24:00:00Z', 'not a valid time: hour 24 does not exist (the hours are 00 to 23)'],
      ['2026-01-01T12:60:00Z', 'not a valid time: minute 60 does not exist (the minutes are 00 to 59)'],
      [
        '2016-12-31T23:59:60Z',
        'not a valid time: second 60 does not exist (the seconds are 00 to 59; Go refuses leap seconds)',
      ],
      [
        '2026-01-01T00:00:00.1234567890Z',
        'not a valid time: the fraction of a second has 10 digits, at most 9 are allowed',
      ],
      ['2026-01-01T00:00:00+24:00', 'not a valid time: the offset +24:00 is not one (at most ±23:59)'],
      ['2026-01-01T00:00:00+01:60', 'not a valid time: the offset +01:60 is not one (at most ±23:59)'],
      ['0000-01-01T00:00:00Z', 'out of range: in UTC it falls in year 0, outside 0001 to 9999'],
      ['0001-01-01T00:00:00+00:01', 'out of range: in UTC it falls in year 0, outside 0001 to 9999'],
      ['9999-12-31T23:59:59-00:01', 'out of range: in UTC it falls in year 10000, outside 0001 to 9999'],
    ];
    for (const [text, problem] of cases) expect(iso(text), text).toBe(problem);
  });

  it('refuses what RFC 3339 allows but Go does not, and what neither does, naming the likeliest slip', () => {
    const expected = 'expected YYYY-MM-DDTHH:MM:SS[.fraction] then Z or ±HH:MM';
    const cases: Array<[string, string]> = [
      ['2026-01-01t00:00:00Z', `the date and the time are separated by "T" only; ${expected}`],
      ['2026-01-01 00:00:00Z', `the date and the time are separated by "T" only; ${expected}`],
      ['2026-01-01T00:00:00z', `UTC is written "Z", upper case; ${expected}`],
      ['2026-01-01T00:00:00.5z', `UTC is written "Z", upper case; ${expected}`],
      ['2026-01-01T00:00:00', `the time zone is missing; ${expected}`],
      ['2026-01-01T00:00:00.250', `the time zone is missing; ${expected}`],
      ['2026-01-01T00:00:00,5Z', `a fraction of a second follows "."; ${expected}`],
      ['2026-01-01', expected],
      ['2026-1-01T00:00:00Z', expected],
      ['20260-01-01T00:00:00Z', expected],
      ['-2026-01-01T00:00:00Z', expected],
      ['+002026-01-01T00:00:00Z', expected],
      ['2026-01-01T00:00Z', expected],
      ['2026-01-01T00:00:00.Z', expected],
      ['2026-01-01T00:00:00+0100', expected],
      ['2026-01-01T00:00:00 Z', expected],
      [' 2026-01-01T00:00:00Z', expected],
      ['2026-01-01T00:00:00Z ', expected],
      ['２０２６-01-01T00:00:00Z', expected],
      ['1700000000', expected],
      ['tomorrow', expected],
      ['', expected],
    ];
    for (const [text, problem] of cases)
      expect(iso(text), text).toBe(`not an RFC 3339 timestamp: ${problem}`);
  });

  it('as a request field: unset when absent or null, else a date or a 400 naming the field and the value', () => {
    expect(timestampField('expiresAt', undefined)).toBeUndefined();
    expect(timestampField('expiresAt', null)).toBeUndefined();
    expect(timestampField('expiresAt', '2099-01-01T00:00:00Z')).toEqual(new Date('2099-01-01T00:00:00Z'));
    expect(() => timestampField('expires_at', '2099-02-30T00:00:00Z')).toThrow(
      'invalid value for expires_at: "2099-02-30T00:00:00Z" is not a valid time: February 2099 has no day 30 (it has 28 days)',
    );
    expect(() => timestampField('expiresAt', 4102444800)).toThrow(
      'invalid value for expiresAt: 4102444800 is not a string (a timestamp is written in quotes)',
    );
    expect(() => timestampField('expiresAt', { seconds: 1 })).toThrow(
      'invalid value for expiresAt: a mapping with 1 key is not a string (a timestamp is written in quotes)',
    );
  });
});

import { describe, expect, it } from 'vitest';
import { durationToMs, formatGoDuration, parseGoDuration } from './duration.ts';

describe('parseGoDuration', () => {
  // The cases of Go's own time.ParseDuration tests, in milliseconds.
  const valid: Array<[string, number]> = [
    ['0', 0],
    ['5s', 5000],
    ['30s', 30_000],
    ['1478s', 1_478_000],
    ['-5s', -5000],
    ['+5s', 5000],
    ['-0', 0],
    ['+0', 0],
    ['5.0s', 5000],
    ['5.6s', 5600],
    ['5.s', 5000],
    ['.5s', 500],
    ['1.004s', 1004],
    ['100.00100s', 100_001],
    ['10ns', 0.00001],
    ['11us', 0.011],
    ['12µs', 0.012],
    ['12μs', 0.012],
    ['13ms', 13],
    ['14s', 14_000],
    ['15m', 900_000],
    ['16h', 57_600_000],
    ['3h30m', 12_600_000],
    ['10.5s4m', 250_500],
    ['-2m3.4s', -123_400],
    ['1h2m3s4ms5us6ns', 3_723_004.005006],
    ['39h9m14.425s', 140_954_425],
    ['52763797000ns', 52_763.797],
  ];
  for (const [text, ms] of valid) {
    it(`parses ${text}`, () => {
      expect(parseGoDuration(text)).toBeCloseTo(ms, 9);
    });
  }

  for (const text of ['', '3', '-', 's', '.', '-.', '.s', '+.s', '1d', '1 h', 'h1', '1hh', '9223372037s']) {
    it(`refuses ${JSON.stringify(text)}`, () => {
      expect(parseGoDuration(text)).toBeUndefined();
    });
  }
});

describe('durationToMs', () => {
  it('reads a bare integer as nanoseconds, as Flipt decodes a YAML integer', () => {
    expect(durationToMs(3_600_000_000_000)).toBe(3_600_000);
    expect(durationToMs(0)).toBe(0);
  });

  it('refuses fractions and other types', () => {
    expect(durationToMs(1.5)).toBeUndefined();
    expect(durationToMs(true)).toBeUndefined();
    expect(durationToMs(null)).toBeUndefined();
  });
});

describe('formatGoDuration', () => {
  it.each([
    [0, '0s'],
    [500, '500ms'],
    [1500, '1.5s'],
    [90_000, '1m30s'],
    [5_400_000, '1h30m0s'],
    [-60_000, '-1m0s'],
  ])('formats %d ms as %s', (ms, text) => {
    expect(formatGoDuration(ms)).toBe(text);
    expect(parseGoDuration(text)).toBe(ms);
  });
});

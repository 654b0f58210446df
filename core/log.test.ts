import { describe, expect, it } from 'vitest';
import { ConfigError } from './errors.ts';
import { createLogger, MAX_SCRUBBED_VALUES, SecretScrubber } from './log.ts';

function capture() {
  const lines: string[] = [];
  return { lines, destination: { write: (line: string) => lines.push(line) } };
}

describe('SecretScrubber', () => {
  it('removes every known value, raw or JSON-escaped, longest first', () => {
    const scrubber = new SecretScrubber();
    scrubber.add(['s3cr3t', 's3cr3t-longer', 'quo"te\\d', 'ab']);
    expect(scrubber.scrub('a s3cr3t-longer and s3cr3t')).toBe('a [REDACTED] and [REDACTED]');
    expect(scrubber.scrub(JSON.stringify({ v: 'quo"te\\d' }))).toBe('{"v":"[REDACTED]"}');
    expect(scrubber.scrub('values of two characters are left: ab')).toBe(
      'values of two characters are left: ab',
    );
  });

  it('removes known values from an error, including each problem it lists', () => {
    const scrubber = new SecretScrubber();
    scrubber.add(['s3cr3t-value']);
    const error = new ConfigError([{ path: ['a'], message: 'got "s3cr3t-value"' }]);
    expect(scrubber.scrubError(error).issues).toEqual([{ path: ['a'], message: 'got "[REDACTED]"' }]);
    expect(error.message).not.toContain('s3cr3t-value');
  });

  it('treats values as text, not patterns', () => {
    const scrubber = new SecretScrubber();
    scrubber.add(['a.c*(']);
    expect(scrubber.scrub('abc a.c*(')).toBe('abc [REDACTED]');
  });
});

describe('createLogger', () => {
  it('writes JSON lines with credentials redacted by name and secret values scrubbed anywhere', () => {
    const { lines, destination } = capture();
    const scrubber = new SecretScrubber();
    const log = createLogger({ level: 'info', encoding: 'json', keys: {} }, scrubber, destination);
    scrubber.add(['resolved-secret-value']);
    log.info(
      {
        headers: { authorization: 'Bearer abc', cookie: 'flipt_client_token=x' },
        config: { client_secret: 'cs' },
      },
      'the resolved-secret-value leaked into a message',
    );
    const entry = JSON.parse(lines[0] ?? '');
    expect(entry).toMatchObject({
      level: 'info',
      msg: 'the [REDACTED] leaked into a message',
      headers: { authorization: '[REDACTED]', cookie: '[REDACTED]' },
      config: { client_secret: '[REDACTED]' },
    });
    expect(lines.join('')).not.toContain('resolved-secret-value');
  });

  it("honours Flipt's level names and log.keys", () => {
    const { lines, destination } = capture();
    const log = createLogger(
      { level: 'PANIC', encoding: 'json', keys: { time: 'T', level: 'L', message: 'M' } },
      new SecretScrubber(),
      destination,
    );
    log.error('hidden below fatal');
    log.fatal('shown');
    expect(lines).toHaveLength(1);
    expect(Object.keys(JSON.parse(lines[0] ?? ''))).toEqual(['L', 'T', 'M']);
  });

  it('writes the level under any key log.keys names, __proto__ included', () => {
    for (const level of ['level', 'severity', '__proto__']) {
      const { lines, destination } = capture();
      createLogger(
        { level: 'info', encoding: 'json', keys: { level } },
        new SecretScrubber(),
        destination,
      ).warn('w');
      expect(Object.entries(JSON.parse(lines[0] ?? '')), level).toContainEqual([level, 'warn']);
    }
  });

  it('writes one readable line per entry with the console encoding', () => {
    const { lines, destination } = capture();
    const log = createLogger(
      { level: 'debug', encoding: 'console', keys: {} },
      new SecretScrubber(),
      destination,
    );
    log.debug({ plugin: 'oidc', reason: 'two words' }, 'discovery fetched');
    expect(lines[0]).toMatch(
      /^\d{4}-\d\d-\d\dT\S+Z DEBUG discovery fetched plugin=oidc reason="two words"\n$/,
    );
  });
});

describe('SecretScrubber over many rotations', () => {
  it('keeps the most recent values: those added again stay, the oldest others are dropped, the pattern stays bounded', () => {
    const scrubber = new SecretScrubber();
    scrubber.add(['in-use-all-along-value', 'first-rotated-away-value']);
    for (let i = 0; i < MAX_SCRUBBED_VALUES; i += 1) {
      // A rotation: the new value, and the values still in use added again.
      scrubber.add([`rotated-value-${i}`, 'in-use-all-along-value']);
    }
    expect(scrubber.scrub('in-use-all-along-value')).not.toContain('in-use-all-along-value');
    expect(scrubber.scrub(`rotated-value-${MAX_SCRUBBED_VALUES - 1}`)).not.toContain('rotated-value');
    expect(scrubber.scrub('first-rotated-away-value')).toBe('first-rotated-away-value');
  });
});

describe('SecretScrubber with long values', () => {
  it('scrubs a value far over what one regular expression can hold (V8 refuses about 32 KiB), and the short ones beside it, never throwing', () => {
    const scrubber = new SecretScrubber();
    const long = `${'L'.repeat(20_000)}${'x'.repeat(20_000)}`;
    const many = Array.from({ length: 3_000 }, (_, i) => `many-values-${i}-padding-to-make-them-longer`);
    scrubber.add(['short-secret-value', long, ...many]);
    const text = `a ${long} b short-secret-value c ${many[2_999]} d "${JSON.stringify(long).slice(1, -1)}"`;
    const scrubbed = scrubber.scrub(text);
    expect(scrubbed).toBe('a [REDACTED] b [REDACTED] c [REDACTED] d "[REDACTED]"');
    const error = scrubber.scrubError(new Error(`failed with ${long}`));
    expect(error.message).toBe('failed with [REDACTED]');
  });

  it('a value inside a longer one does not break the longer one apart', () => {
    const scrubber = new SecretScrubber();
    const inner = 'inner-secret-value';
    const outer = `prefix-${inner}-${'y'.repeat(40_000)}`;
    scrubber.add([inner, outer]);
    expect(scrubber.scrub(`<${outer}>`)).toBe('<[REDACTED]>');
  });
});

describe('SecretScrubber.keep', () => {
  it('never drops a value in use, however many others come and go', () => {
    const scrubber = new SecretScrubber();
    const inUse = Array.from({ length: 5_000 }, (_, i) => `in-use-value-"${i}"-quoted`);
    scrubber.keep(inUse);
    scrubber.add(Array.from({ length: 10_000 }, (_, i) => `rotated-away-value-${i}`));
    for (const value of [inUse[0], inUse[4_999]] as string[]) {
      expect(scrubber.scrub(`x ${value} y`)).toBe('x [REDACTED] y');
      expect(scrubber.scrub(JSON.stringify({ v: value }))).toBe('{"v":"[REDACTED]"}');
    }
    // Those no longer in use are kept as the most recent of the others.
    scrubber.keep(['the-next-value-in-use']);
    expect(scrubber.scrub(inUse[4_999] as string)).toBe('[REDACTED]');
  });
});

describe('SecretScrubber and escaping', () => {
  it('finds a value with quotes and backslashes escaped once or twice (a message quoting a JSON body)', () => {
    const scrubber = new SecretScrubber();
    const value = 'pa"ss\\word-with-escapes';
    scrubber.add([value]);
    const once = JSON.stringify({ v: value });
    const twice = JSON.stringify({ msg: `body was ${once}` });
    expect(scrubber.scrub(once)).toBe('{"v":"[REDACTED]"}');
    expect(scrubber.scrub(twice)).not.toContain('word-with-escapes');
  });
});

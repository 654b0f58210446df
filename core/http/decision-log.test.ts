import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger, SecretScrubber } from '../log.ts';
import { DecisionLog } from './decision-log.ts';

function logAt(level: string) {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({ level, encoding: 'json', keys: {} }, new SecretScrubber(), {
    write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>),
  });
  return { lines, log };
}

const refusal = (reason: string) => ({
  reason,
  detail: `the words for ${reason}`,
  via: 'bearer',
  durationMs: 0.123_456_7,
  path: '/api/v1/flags',
});

describe('DecisionLog', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('logs refusals one line each up to the limit, then counts the rest of the second by reason', () => {
    const { lines, log } = logAt('info');
    let now = 5_000;
    const decisions = new DecisionLog(log, { limit: 3, now: () => now });
    for (const reason of ['a', 'b', 'a', 'a', 'b', 'a', 'c']) decisions.refused(refusal(reason));
    expect(lines.map((line) => [line.msg, line.reason])).toEqual([
      ['authentication decision', 'a'],
      ['authentication decision', 'b'],
      ['authentication decision', 'a'],
    ]);
    expect(lines[0]).toMatchObject({
      level: 'warn',
      outcome: 'unauthenticated',
      detail: 'the words for a',
      via: 'bearer',
      durationMs: 0.123,
      path: '/api/v1/flags',
    });

    now = 6_000;
    decisions.refused(refusal('d'));
    expect(lines.slice(3)).toEqual([
      expect.objectContaining({
        msg: 'authentication decisions over the per-second limit, counted',
        outcome: 'refused',
        count: 4,
        reasons: { a: 2, b: 1, c: 1 },
        limit: 3,
      }),
      expect.objectContaining({ msg: 'authentication decision', reason: 'd' }),
    ]);
  });

  it('reports the count when the second ends even if no request follows, and on flush', () => {
    vi.useFakeTimers({ now: 10_250 });
    const { lines, log } = logAt('warn');
    const decisions = new DecisionLog(log, { limit: 1 });
    decisions.refused(refusal('a'));
    decisions.refused(refusal('a'));
    expect(lines).toHaveLength(1);
    vi.advanceTimersByTime(749);
    expect(lines).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(lines[1]).toMatchObject({ count: 1, reasons: { a: 1 } });

    decisions.refused(refusal('b'));
    decisions.refused(refusal('b'));
    decisions.flush();
    expect(lines[3]).toMatchObject({ count: 1, reasons: { b: 1 } });
    decisions.flush();
    expect(lines).toHaveLength(4);
  });

  it('names at most 20 reasons in a summary, counting the rest together', () => {
    const { lines, log } = logAt('info');
    let now = 1_000;
    const decisions = new DecisionLog(log, { limit: 0, now: () => now });
    for (let i = 0; i < 30; i++) decisions.refused(refusal(`reason ${i % 25}`));
    now = 2_000;
    decisions.flush();
    const { reasons, count } = lines[0] as { reasons: Record<string, number>; count: number };
    expect(count).toBe(30);
    expect(Object.keys(reasons)).toHaveLength(21);
    expect(reasons['reason 0']).toBe(2);
    expect(reasons['(other reasons)']).toBe(5);
  });

  it('logs every refusal at debug level, and none above warn', () => {
    const debug = logAt('debug');
    const all = new DecisionLog(debug.log, { limit: 1, now: () => 0 });
    for (let i = 0; i < 5; i++) all.refused(refusal('a'));
    expect(debug.lines).toHaveLength(5);

    const error = logAt('error');
    const none = new DecisionLog(error.log, { limit: 1, now: () => 0 });
    for (let i = 0; i < 5; i++) none.refused(refusal('a'));
    none.flush();
    expect(error.lines).toHaveLength(0);
  });
});

import { describe, expect, it } from 'vitest';
import { RefreshSchedule } from './refresh.ts';

describe('RefreshSchedule', () => {
  it('runs at its interval however often it is triggered (a busy watched folder must not starve it)', async () => {
    let runs = 0;
    const schedule = new RefreshSchedule(300, async () => {
      runs += 1;
    });
    const started = Date.now();
    // A trigger every 10 ms for a second: the settle delay is 50 ms, so runs come from the triggers; none of them
    // may push the others, or the interval, back.
    while (Date.now() - started < 1_000) {
      schedule.trigger('file');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await schedule.stop();
    expect(runs).toBeGreaterThanOrEqual(5);
  });

  it('runs every store at its interval while one store triggers without end (a busy watched folder)', async () => {
    const calls: Array<'all' | 'file'> = [];
    const schedule = new RefreshSchedule(300, async (providers) => {
      calls.push(providers === undefined ? 'all' : 'file');
    });
    const started = Date.now();
    while (Date.now() - started < 1_300) {
      schedule.trigger('file');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await schedule.stop();
    expect(calls.filter((call) => call === 'all').length).toBeGreaterThanOrEqual(3);
    expect(calls.filter((call) => call === 'file').length).toBeGreaterThanOrEqual(5);
  });

  it('runs at its interval with no trigger, and not at all once stopped', async () => {
    let runs = 0;
    const schedule = new RefreshSchedule(100, async () => {
      runs += 1;
    });
    await new Promise((resolve) => setTimeout(resolve, 450));
    await schedule.stop();
    const seen = runs;
    expect(seen).toBeGreaterThanOrEqual(3);
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(runs).toBe(seen);
  });

  it('a triggered run fetches the stores that triggered it only; the periodic run, all of them', async () => {
    const calls: Array<string[] | 'all'> = [];
    const schedule = new RefreshSchedule(400, async (providers) => {
      calls.push(providers === undefined ? 'all' : [...providers].sort());
    });
    schedule.trigger('file');
    schedule.trigger('file');
    await new Promise((resolve) => setTimeout(resolve, 150));
    await new Promise((resolve) => setTimeout(resolve, 400));
    await schedule.stop();
    expect(calls[0]).toEqual(['file']);
    expect(calls).toContain('all');
  });
});

import { describe, expect, it } from 'vitest';
import { PendingQueue } from './pending.ts';

describe('PendingQueue', () => {
  it('keeps order across growth and wrap-around, dropping the oldest past its limit', () => {
    const queue = new PendingQueue<number>(40);
    const dropped: number[] = [];
    let next = 0;
    const expected: number[] = [];
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 7; i++) {
        const out = queue.push(next);
        expected.push(next);
        next += 1;
        if (out !== undefined) dropped.push(out);
        if (expected.length > 40) expect(out).toBe(expected.shift());
      }
      const taken = queue.take(round % 3);
      expect(taken).toEqual(expected.splice(0, taken.length));
      expect(queue.size).toBe(expected.length);
      expect(queue.peek()).toBe(expected[0]);
    }
    expect(queue.take(1000)).toEqual(expected);
    expect(dropped.length).toBeGreaterThan(0);
    expect(queue.shift()).toBeUndefined();
  });
});

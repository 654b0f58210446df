import { describe, expect, it } from 'vitest';
import { parseEventFilters } from './filters.ts';

const problems = (events: readonly string[]) =>
  parseEventFilters(events).issues.map((issue) => `${issue.index ?? '-'}: ${issue.message}`);

const matcher = (events: readonly string[]) => {
  const { filter, issues } = parseEventFilters(events);
  expect(issues).toEqual([]);
  return (pair: string) => filter.matches(...(pair.split(':') as [string, string]));
};

describe('audit.events filters', () => {
  it('*:* keeps every event of ours, plugins’ included, and Flipt’s own', () => {
    const matches = matcher(['*:*']);
    for (const pair of [
      'token:created',
      'token:deleted',
      'authentication:refused',
      'authentication:expired',
      'authentication:deleted',
      'login:succeeded',
      'login:refused',
      'logout:self',
      'logout:back_channel',
      'logout:front_channel',
      'plugin:device_registered',
      'flag:updated',
    ]) {
      expect(matches(pair), pair).toBe(true);
    }
    for (const pair of ['login:created', 'plugin:Not-Snake', 'unknown:created', 'token:refused']) {
      expect(matches(pair), pair).toBe(false);
    }
  });

  it('reads noun:* and *:verb as Flipt does, and a plugin’s verbs one by one or all', () => {
    const matches = matcher(['login:*', '*:deleted', 'plugin:device_registered']);
    expect(
      ['login:succeeded', 'login:refused', 'token:deleted', 'authentication:deleted', 'flag:deleted'].every(
        matches,
      ),
    ).toBe(true);
    expect(matches('plugin:deleted')).toBe(true);
    expect(matches('plugin:device_registered')).toBe(true);
    expect(matches('plugin:other')).toBe(false);
    expect(matches('logout:self')).toBe(false);
    expect(matches('token:created')).toBe(false);
    const plugins = matcher(['plugin:*']);
    expect(plugins('plugin:anything_at_all')).toBe(true);
    expect(plugins('login:succeeded')).toBe(false);
  });

  it('refuses what Flipt’s checker refuses, in its words, each item with its index', () => {
    expect(
      problems([
        'login',
        'user:created',
        'login:created',
        'token:*',
        'token:created',
        'logout:self',
        '*:self',
      ]),
    ).toEqual([
      '0: invalid event pair: login',
      '1: invalid noun: user',
      '2: invalid verb: created',
      '4: repeated event pair: token:created',
      '6: repeated event pair: logout:self',
    ]);
    expect(problems(['plugin:*', 'plugin:x'])).toEqual(['1: repeated event pair: plugin:x']);
    expect(problems(['plugin:x', '*:*'])).toEqual(['1: repeated event pair: plugin:x']);
    expect(problems(['plugin:*', 'plugin:*'])).toEqual(['1: repeated event pair: plugin:*']);
    expect(problems(['plugin:Bad-Verb'])).toEqual(['0: invalid verb: Bad-Verb']);
    expect(problems([])).toEqual(['-: no event pairs exist']);
    // Text after a second colon is ignored, as Flipt ignores it.
    expect(problems(['flag:created:later'])).toEqual([]);
  });
});

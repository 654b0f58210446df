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
      '/evaluate/v1/%61ny',
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

  it('adds the prefixes of excluded gateway sections', () => {
    const excluded = exclude(false, false, ['/public', '/assets/img']);
    expect(excluded('/public/index.html')).toBe(true);
    expect(excluded('/assets/img/logo.png')).toBe(true);
    expect(excluded('/assets/js/app.js')).toBe(false);
    expect(excluded('/publicity')).toBe(false);
  });
});

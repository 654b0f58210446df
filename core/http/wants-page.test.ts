import { describe, expect, it } from 'vitest';
import { wantsPage } from './authenticate.ts';

describe('wantsPage: a browser asking for a page, which may be sent to a login page', () => {
  it.each([
    ['text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', true],
    ['text/html', true],
    ['TEXT/HTML', true],
    ['Text/Html, application/json', true],
    ['application/json, text/html;q=0.1', true],
    ['text/html; charset=utf-8', true],
    ['text/html;q=0, application/json', false],
    ['application/json, text/html;q=0.0', false],
    ['x-text/html-fragment', false],
    ['text/htmlx', false],
    ['*/*', false],
    ['application/json', false],
    ['', false],
  ])('Accept: %j → %s', (accept, expected) => {
    expect(wantsPage({ accept })).toBe(expected);
  });

  it('never with an Authorization header: a program that sent a credential gets the 401', () => {
    expect(wantsPage({ accept: 'text/html', authorization: 'Bearer wrong' })).toBe(false);
    expect(wantsPage({})).toBe(false);
  });
});

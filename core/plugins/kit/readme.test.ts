import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as kit from './index.ts';

const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
const section = readme.slice(readme.indexOf('### The kit\n'), readme.indexOf('### Listing and testing it'));

describe("the README's list of the kit", () => {
  it('names every runtime export of portcullis/plugin', () => {
    const missing = Object.keys(kit).filter((name) => !section.includes(`\`${name}\``));
    expect(missing).toEqual([]);
  });
});

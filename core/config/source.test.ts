import { describe, expect, it } from 'vitest';
import { parseConfigText } from './source.ts';

const text = `# comment
version: 2.0
authentication:
  required: true
  methods:
    oidc:
      providers:
        google:
          scopes:
            - email
            - profile
base: &base
  enabled: true
  port: 0123
merged:
  <<: *base
  extra: yes
`;

function parse(source: string) {
  const result = parseConfigText(source, 'config.yaml');
  if (!result.ok) throw new Error(JSON.stringify(result.issues));
  return result.doc;
}

describe('parseConfigText', () => {
  const doc = parse(text);

  it('produces the plain value tree with anchors and merge keys resolved', () => {
    expect(doc.value.merged).toEqual({ enabled: true, port: 123, extra: 'yes' });
    expect(doc.value.version).toBe(2);
  });

  it('locates keys and values, 1-based', () => {
    expect(doc.locate(['authentication', 'required'])).toEqual({ line: 4, col: 3 });
    expect(doc.locateValue(['authentication', 'required'])).toEqual({ line: 4, col: 13 });
    expect(doc.locate(['authentication', 'methods', 'oidc', 'providers', 'google', 'scopes', 1])).toEqual({
      line: 11,
      col: 15,
    });
  });

  it('falls back to the nearest written ancestor for a path that is not in the file', () => {
    expect(doc.locate(['authentication', 'session', 'domain'])).toEqual({ line: 3, col: 1 });
    expect(doc.locate(['secrets', 'providers'])).toBeUndefined();
  });

  it('locates through merge keys', () => {
    expect(doc.locate(['merged', 'enabled'])).toEqual({ line: 13, col: 3 });
    expect(doc.locate(['merged', 'extra'])).toEqual({ line: 17, col: 3 });
  });

  it('keeps the text of a scalar as written', () => {
    expect(doc.scalarSource(['version'])).toBe('2.0');
    expect(doc.scalarSource(['base', 'port'])).toBe('0123');
    expect(doc.scalarSource(['authentication'])).toBeUndefined();
  });

  it('reports a syntax error at its place, with the path that contains it', () => {
    const result = parseConfigText('a:\n  b: "unterminated\n', 'x.yaml');
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues).toHaveLength(1);
    expect(result.issues[0]?.message).toMatch(/^invalid YAML: /);
    expect(result.issues[0]?.path).toEqual(['a', 'b']);
  });

  it('refuses duplicate keys', () => {
    const result = parseConfigText('a: 1\nb: 2\na: 3\n', 'x.yaml');
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues[0]).toMatchObject({ path: ['a'], source: { file: 'x.yaml', line: 3, col: 1 } });
  });

  it('refuses a top level that is not a mapping, and treats an empty file as empty', () => {
    expect(parseConfigText('- a\n- b\n', 'x.yaml').ok).toBe(false);
    expect(parseConfigText('just text', 'x.yaml').ok).toBe(false);
    expect(parse('').value).toEqual({});
    expect(parse('# only a comment\n').value).toEqual({});
  });

  it('refuses an alias bomb instead of expanding it', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 0; i < 8; i++) {
      const prev = String.fromCharCode(97 + i);
      const next = String.fromCharCode(98 + i);
      bomb.push(`${next}: &${next} [${Array(10).fill(`*${prev}`).join(', ')}]`);
    }
    expect(parseConfigText(bomb.join('\n'), 'bomb.yaml').ok).toBe(false);
  });
});

describe('parseConfigText error paths', () => {
  it('does not attribute a duplicate top-level key to the block before it', () => {
    const result = parseConfigText('a:\n  b:\n    c: 1\nd: 2\na: 3\n', 'x.yaml');
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues[0]).toMatchObject({ path: ['a'], source: { line: 5, col: 1 } });
  });
});

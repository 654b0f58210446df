/**
 * Respellings of a valid compact JWS that RFC 7515 §2 / §7.1 rules out (and Flipt's go-jose refuses), for tests of
 * every place that verifies one: padding, characters outside unpadded base64url and whitespace in each part, a last
 * character with unused bits set, and a count of parts other than three.
 */

const PARTS = ['header', 'payload', 'signature'] as const;
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

function middle(text: string, insert: string): string {
  const at = Math.floor(text.length / 2);
  return `${text.slice(0, at)}${insert}${text.slice(at)}`;
}

/** The part's last character with the lowest unused bit set: the same bytes to a lenient decoder. */
function nonCanonical(part: string): string | undefined {
  const spare = part.length % 4;
  if (spare !== 2 && spare !== 3) return undefined;
  const last = ALPHABET.indexOf(part.at(-1) ?? '');
  return `${part.slice(0, -1)}${ALPHABET[last | 1]}`;
}

/** `[what, token]` for every refused respelling of `token`, each part in turn, then the whole. */
export function refusedSpellings(token: string): Array<[string, string]> {
  const parts = token.split('.');
  const spellings: Array<[string, string]> = [];
  for (const [index, name] of PARTS.entries()) {
    const part = parts[index] ?? '';
    const padded = `${part}${'='.repeat((4 - (part.length % 4)) % 4)}`;
    const variants: Array<[string, string | undefined]> = [
      ['"=" appended', `${part}=`],
      ['"==" appended', `${part}==`],
      ['padded to a multiple of 4 (what atob takes)', padded === part ? undefined : padded],
      ['"+" inserted', middle(part, '+')],
      ['"/" inserted', middle(part, '/')],
      [
        'in the standard alphabet (- as +, _ as /)',
        /[-_]/.test(part) ? part.replaceAll('-', '+').replaceAll('_', '/') : undefined,
      ],
      ['a space inserted', middle(part, ' ')],
      ['a tab inserted', middle(part, '\t')],
      ['a non-ASCII letter inserted', middle(part, 'é')],
      ['unused bits of its last character set', nonCanonical(part)],
      ['emptied', ''],
    ];
    for (const [what, respelled] of variants) {
      if (respelled === undefined) continue;
      const copy = [...parts];
      copy[index] = respelled;
      spellings.push([`${name}: ${what}`, copy.join('.')]);
    }
  }
  spellings.push(
    ['two parts', parts.slice(0, 2).join('.')],
    ['four parts', `${token}.${parts[2]}`],
    ['a trailing "."', `${token}.`],
    ['padding and "." appended to the whole', `${token}==.`],
  );
  return spellings;
}

/**
 * The last guard of configuration messages: values no message may repeat, wherever a rule or a plugin put them.
 * - A credential (see {@link CredentialMap}) is refused without its text where it is written, but another setting
 *   may hold the same text (`redirect_address` pasted from `client_secret`) and its message would repeat it; every
 *   credential written in the configuration is taken out of every message.
 * - A value that came from the environment (`${env:NAME}`, or a `FLIPT_*` variable) may be a secret whatever the
 *   setting, the environment being the usual way to hand a secret over; a message about that setting names the
 *   variable instead (`got the value of ${env:NAME} (20 characters)`).
 * A value is found in a message in every form the message builders give it: quoted or not, escaped, cut.
 */
import { formatPath } from '../errors.ts';
import type { JsonSchema } from '../plugins/contracts.ts';
import { CredentialMap } from './credentials.ts';
import { escapeControls, quoteValue, valueText } from './describe-value.ts';
import { formatGoDuration, parseGoDuration } from './duration.ts';
import type { EnvSourced } from './env.ts';
import { getAt, type Path, pathKey } from './tree.ts';

/**
 * How long a value must be to be looked for where a message does not quote it (`stat /run/key.pem: ...`), rather
 * than only as a quoted string: a shorter text is too likely to be a word of the message itself ("is the same as").
 * A value from the environment, in a message about its own setting: as short as the log scrubber's. A credential,
 * in any message: long enough that no word of a message is mistaken for it.
 */
const MIN_BARE_OWN = 3;
const MIN_BARE_ELSEWHERE = 8;
const STARTS_WITH_WORD = /^[\p{L}\p{N}_]/u;
const ENDS_WITH_WORD = /[\p{L}\p{N}_]$/u;

/** A text to take out of messages, and what to write instead. */
interface Hidden {
  readonly text: string;
  /** Other forms the value is shown in (a number or a duration as a message formats it). */
  readonly also: readonly string[];
  readonly label: string;
}

function characters(text: string): string {
  const n = Array.from(text).length;
  return `${n} character${n === 1 ? '' : 's'}`;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The forms in which a message may show a value: quoted (as JSON, whole or cut), and bare (as is, escaped, cut). */
interface Forms {
  /** Its length in characters. */
  readonly length: number;
  readonly quoted: readonly string[];
  readonly bare: readonly string[];
}

function formsOf(text: string, also: readonly string[] = []): Forms {
  return {
    length: Array.from(text).length,
    quoted: [quoteValue(text), quoteValue(text, Number.POSITIVE_INFINITY), JSON.stringify(text)],
    bare: [valueText(text), escapeControls(text), text, ...also],
  };
}

/**
 * The forms of a value that `message` holds: its quoted forms wherever they are; its bare forms, when it is at least
 * `minBare` characters long and (with `bareOnlyUnquoted`) the message does not quote it already.
 */
function found(message: string, forms: Forms, minBare: number, bareOnlyUnquoted: boolean): string[] {
  const quoted = forms.quoted.filter((form) => message.includes(form));
  if ((bareOnlyUnquoted && quoted.length > 0) || forms.length < minBare) return quoted;
  return [...quoted, ...forms.bare.filter((form) => form !== '' && message.includes(form))];
}

const BEFORE_WORD = '(?<![\\p{L}\\p{N}_])';
const AFTER_WORD = '(?![\\p{L}\\p{N}_])';

/**
 * A pattern that finds any of `forms`, longest first; a bare form only where it is not part of a longer word. The
 * forms are grouped by the word boundaries they need, each group under one assertion: thousands of forms (as many
 * static tokens) then cost one pass over a message, where an assertion per form would make it crawl.
 */
function patternOf(forms: Iterable<string>): RegExp {
  // Four groups: with or without an assertion before, with or without one after.
  const groups: string[][] = [[], [], [], []];
  for (const form of [...forms].sort((a, b) => b.length - a.length)) {
    groups[(STARTS_WITH_WORD.test(form) ? 2 : 0) + (ENDS_WITH_WORD.test(form) ? 1 : 0)]?.push(
      escapeRegExp(form),
    );
  }
  const alternatives = groups.flatMap((group, i) =>
    group.length === 0
      ? []
      : [`${i >= 2 ? BEFORE_WORD : ''}(?:${group.join('|')})${i % 2 === 1 ? AFTER_WORD : ''}`],
  );
  return new RegExp(alternatives.join('|'), 'gu');
}

/** Where the environment set values: `${env:NAME}` values and `FLIPT_*` variables, with the tree they produced. */
export interface EnvValues {
  /** The tree after `${env:...}` and `FLIPT_*` were applied, before typing. */
  readonly written: unknown;
  readonly references: readonly EnvSourced[];
  readonly overrides: readonly EnvSourced[];
}

/**
 * A function that takes out of a message (about the setting at `path`) every credential written in `tree` (the
 * typed configuration) and every value the environment set at `path` (see the module comment).
 */
export function messageRedactor(
  schema: JsonSchema,
  tree: unknown,
  env: EnvValues,
): (message: string, path: Path) => string {
  // What set each value: a variable named in the file, or a FLIPT_* variable (which wins, as it is applied last).
  const sources = new Map<string, { path: Path; source: string }>();
  for (const r of env.references)
    sources.set(pathKey(r.path), { path: r.path, source: `\${env:${r.variable}}` });
  for (const o of env.overrides) sources.set(pathKey(o.path), { path: o.path, source: o.variable });

  const fromEnv = new Map<string, Hidden[]>();
  for (const [key, { path, source }] of sources) {
    const text = getAt(env.written, path);
    if (typeof text !== 'string' || text === '') continue;
    const also: string[] = [];
    const number = Number(text);
    if (text.trim() !== '' && Number.isFinite(number)) also.push(String(number));
    const ms = parseGoDuration(text);
    if (ms !== undefined) also.push(formatGoDuration(ms));
    const hidden: Hidden[] = [{ text, also, label: `the value of ${source} (${characters(text)})` }];
    // A list set from one variable (`FLIPT_..._SCOPES="a b"`) is named item by item.
    const typed = getAt(tree, path);
    if (Array.isArray(typed)) {
      for (const item of typed)
        if (typeof item === 'string' && item !== '')
          hidden.push({ text: item, also: [], label: `an item of ${source} (${characters(item)})` });
    }
    fromEnv.set(key, hidden);
  }

  // Every form of every credential, in one pattern made once: each message is searched once for all of them,
  // however many static tokens there are. A form may belong to several settings that hold the same text.
  const credentialForms = new Map<string, Array<{ key: string; label: string; ownLabel: string }>>();
  for (const { path, value } of new CredentialMap(schema).values(tree)) {
    const key = pathKey(path);
    const source = sources.get(key)?.source;
    const label = `the value of ${source ?? formatPath(path)} (${characters(value)})`;
    // In a message about its own setting, which the message already names, unless a variable set it.
    const ownLabel = source === undefined ? `a value of ${characters(value)}` : label;
    const forms = formsOf(value);
    for (const form of [...forms.quoted, ...(forms.length >= MIN_BARE_ELSEWHERE ? forms.bare : [])]) {
      if (form === '') continue;
      const holders = credentialForms.get(form) ?? [];
      holders.push({ key, label, ownLabel });
      credentialForms.set(form, holders);
    }
  }
  const credentialKeys = new Set(
    [...credentialForms.values()].flatMap((holders) => holders.map((h) => h.key)),
  );
  const credentialPattern = credentialForms.size === 0 ? undefined : patternOf(credentialForms.keys());

  return (message, path) => {
    const key = pathKey(path);
    let shown = message;
    // A value from the environment, in a message about its setting: bare too, unless the message quotes it (then
    // the bare text is likelier a word of the message). A credential is never named by the rules about its own
    // setting (only compared), so even from the environment it is looked for bare only when long.
    const envMinBare = credentialKeys.has(key) ? MIN_BARE_ELSEWHERE : MIN_BARE_OWN;
    const labels = new Map<string, string>();
    for (const hidden of fromEnv.get(key) ?? []) {
      for (const form of found(message, formsOf(hidden.text, hidden.also), envMinBare, true))
        if (!labels.has(form)) labels.set(form, hidden.label);
    }
    if (labels.size > 0) shown = shown.replace(patternOf(labels.keys()), (form) => labels.get(form) ?? form);
    if (credentialPattern === undefined) return shown;
    return shown.replace(credentialPattern, (form) => {
      const holders = credentialForms.get(form) ?? [];
      const own = holders.find((h) => h.key === key);
      return own?.ownLabel ?? holders[0]?.label ?? form;
    });
  };
}

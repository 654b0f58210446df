import { isReasonId } from '../../auth/reasons.ts';

/**
 * The events that can be asked for in `audit.events`, by noun. Flipt's own nouns and verbs are accepted so that a
 * Flipt configuration loads unchanged; of them only `token:created` and `token:deleted` ever fire here. `plugin`
 * takes any snake_case verb (what a plugin passes to `ctx.audit.record`).
 */
export const AUDIT_EVENTS: Readonly<Record<string, readonly string[]>> = {
  constraint: ['created', 'deleted', 'updated'],
  distribution: ['created', 'deleted', 'updated'],
  flag: ['created', 'deleted', 'updated'],
  namespace: ['created', 'deleted', 'updated'],
  rollout: ['created', 'deleted', 'updated'],
  rule: ['created', 'deleted', 'updated'],
  segment: ['created', 'deleted', 'updated'],
  token: ['created', 'deleted', 'updated'],
  variant: ['created', 'deleted', 'updated'],
  authentication: ['refused', 'expired', 'deleted'],
  login: ['succeeded', 'refused'],
  logout: ['self', 'back_channel', 'front_channel'],
};

/** The noun whose verbs are a plugin's own: any snake_case verb. */
const PLUGIN = 'plugin';
const NOUNS = [...Object.keys(AUDIT_EVENTS), PLUGIN];

/** A problem with one item of `audit.events`, in Flipt's words (`internal/server/audit/checker.go`). */
export interface FilterIssue {
  /** The index of the item in `audit.events`; absent when the list as a whole is the problem. */
  readonly index?: number;
  readonly message: string;
}

/** Which `type:action` events pass the `audit.events` filters. */
export interface EventFilter {
  matches(type: string, action: string): boolean;
}

/** `text` as Flipt's messages show a value (`%s`), escaped: a control character must not reach a log raw. */
type Show = (text: string) => string;

/** What one item of `audit.events` names: concrete pairs, and whether every plugin verb; or why it is refused. */
type Expansion =
  | { readonly pairs: string[]; readonly everyPluginVerb: boolean }
  | { readonly problem: string };

/** One `noun:verb` item, expanded as Flipt's checker expands it. */
function expand(text: string, show: Show): Expansion {
  const [noun = '', verb] = text.split(':');
  if (verb === undefined) return { problem: `invalid event pair: ${show(text)}` };
  if (noun !== '*' && !NOUNS.includes(noun)) return { problem: `invalid noun: ${show(noun)}` };
  const pairs: string[] = [];
  let everyPluginVerb = false;
  for (const each of noun === '*' ? NOUNS : [noun]) {
    if (each === PLUGIN) {
      if (verb === '*') everyPluginVerb = true;
      else if (isReasonId(verb)) pairs.push(`${PLUGIN}:${verb}`);
      continue;
    }
    const verbs = AUDIT_EVENTS[each] ?? [];
    for (const v of verb === '*' ? verbs : verbs.filter((known) => known === verb))
      pairs.push(`${each}:${v}`);
  }
  if (pairs.length === 0 && !everyPluginVerb) return { problem: `invalid verb: ${show(verb)}` };
  return { pairs, everyPluginVerb };
}

/**
 * Reads `audit.events` as Flipt's `NewChecker` does: each item `noun:verb` (text after a second `:` is ignored, as
 * Flipt ignores it), `*` standing for every noun or every verb of a noun; a pair given twice, directly or through a
 * `*`, is refused; an empty list matches nothing and is refused. Every problem is reported (Flipt stops at the
 * first), each with the index of its item.
 */
export function parseEventFilters(
  events: readonly unknown[],
  show: Show = (text) => text,
): { filter: EventFilter; issues: FilterIssue[] } {
  const pairs = new Set<string>();
  let everyPluginVerb = false;
  const issues: FilterIssue[] = [];
  const isPluginPair = (pair: string) => pair.startsWith(`${PLUGIN}:`);
  events.forEach((item, index) => {
    const expansion = expand(String(item), show);
    if ('problem' in expansion) {
      issues.push({ index, message: expansion.problem });
      return;
    }
    const repeated =
      (expansion.everyPluginVerb && (everyPluginVerb ? `${PLUGIN}:*` : [...pairs].find(isPluginPair))) ||
      expansion.pairs.find((pair) => pairs.has(pair) || (everyPluginVerb && isPluginPair(pair)));
    if (repeated) {
      issues.push({ index, message: `repeated event pair: ${show(repeated)}` });
      return;
    }
    for (const pair of expansion.pairs) pairs.add(pair);
    everyPluginVerb ||= expansion.everyPluginVerb;
  });
  if (issues.length === 0 && pairs.size === 0 && !everyPluginVerb)
    issues.push({ message: 'no event pairs exist' });
  return {
    filter: {
      matches: (type, action) =>
        pairs.has(`${type}:${action}`) || (type === PLUGIN && everyPluginVerb && isReasonId(action)),
    },
    issues,
  };
}

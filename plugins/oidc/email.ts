import { createRequire } from 'node:module';
import { errorMessage, valueText } from '../../core/plugins/kit/index.ts';

/** `email_matches` compiled: RE2 patterns, matched unanchored (Go's `MatchString`), any one sufficing. */
export interface EmailRule {
  /** Whether any patterns are configured; without them every email (and none) is allowed. */
  readonly active: boolean;
  allows(email: string | undefined): boolean;
}

/** A pattern RE2 refuses, with Flipt's start-up message. */
export interface PatternProblem {
  readonly index: number;
  readonly message: string;
}

type Re2 = typeof import('re2js').RE2JS;

// re2js is loaded on first use rather than imported, so that listing methods does not load it when oidc is off.
function re2(): Re2 {
  return (createRequire(import.meta.url)('re2js') as typeof import('re2js')).RE2JS;
}

/**
 * RE2's reason, in Go's words (`error parsing regexp: missing closing )` and, between backquotes, the part of the
 * pattern at fault, often the whole pattern again), that part escaped and cut as the pattern is.
 */
function regexpError(error: unknown): string {
  return errorMessage(error).replace(/`([\s\S]*)`$/, (_, fragment: string) => `\`${valueText(fragment)}\``);
}

/** The patterns RE2 (Go's regexp syntax) would refuse. */
export function emailPatternProblems(patterns: readonly string[]): PatternProblem[] {
  // No patterns (the usual case) need no RE2: loading its 260 KB was part of every start-up with oidc on.
  if (patterns.length === 0) return [];
  const RE2JS = re2();
  const problems: PatternProblem[] = [];
  patterns.forEach((pattern, index) => {
    try {
      RE2JS.compile(pattern);
    } catch (error) {
      problems.push({
        index,
        message: `failed compiling string for pattern: ${valueText(pattern)}: ${regexpError(error)}`,
      });
    }
  });
  return problems;
}

/** Compiles `email_matches` (validated beforehand, so every pattern compiles). */
export function compileEmailRule(patterns: readonly string[]): EmailRule {
  if (patterns.length === 0) return { active: false, allows: () => true };
  const RE2JS = re2();
  const compiled = patterns.map((pattern) => RE2JS.compile(pattern));
  return {
    active: true,
    allows: (email) => email !== undefined && compiled.some((pattern) => pattern.matcher(email).find()),
  };
}

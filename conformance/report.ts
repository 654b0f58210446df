import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Reporter, TestModule, TestSuite } from 'vitest/node';

/** One case of a conformance run, as the summary prints it and the JSON report holds it. */
export interface CaseResult {
  readonly case: string;
  /** The OpenID provider the case ran against (`test-idp` or `dex`), or `-` when it involves none. */
  readonly idp: string;
  readonly result: 'passed' | 'failed' | 'skipped' | 'pending';
  readonly seconds: number;
  /** The first line of the failure. */
  readonly error?: string;
}

/** The JSON report (`--json`, by default `.tmp/conformance/report.json`). */
export interface ConformanceReport {
  readonly idp: string;
  /** The vitest filters the run was given (files, `-t` names); empty for a whole run. */
  readonly filters: readonly string[];
  readonly startedAt: string;
  readonly seconds: number;
  readonly images: {
    readonly built: readonly string[];
    readonly reused: readonly string[];
    readonly seconds: number;
  };
  readonly cases: readonly CaseResult[];
}

declare module 'vitest' {
  interface TaskMeta {
    /** Set by a case that ran against an OpenID provider: which one. */
    idp?: string;
  }
}

/** The cases of a run, in the order they were defined. */
export function caseResults(modules: ReadonlyArray<TestModule>): CaseResult[] {
  const results: CaseResult[] = [];
  for (const module of modules) {
    const first = results.length;
    for (const test of module.children.allTests()) {
      const result = test.result();
      // A case skipped because its file's or suite's set-up failed (a container that did not start) failed.
      let setUp: string | undefined;
      for (let parent: TestSuite | TestModule = test.parent; setUp === undefined; ) {
        setUp = parent.errors()[0]?.message;
        if (parent.type === 'module') break;
        parent = parent.parent;
      }
      // (A case skipped on purpose, `it.skipIf`, stays skipped.)
      const failed =
        result.state === 'failed' ||
        (result.state === 'skipped' && test.options.mode !== 'skip' && setUp !== undefined);
      const error =
        result.state === 'failed' ? result.errors?.[0]?.message : failed ? `set-up: ${setUp}` : undefined;
      results.push({
        case: test.fullName,
        idp: test.meta().idp ?? '-',
        result: failed ? 'failed' : result.state,
        seconds: Math.round((test.diagnostic()?.duration ?? 0) / 100) / 10,
        ...(error === undefined ? {} : { error: error.split('\n')[0] ?? '' }),
      });
    }
    // The containers of a file start in its beforeAll and go in its afterAll: their time gets a row of its own.
    const cases = results.slice(first);
    const inCases = cases.reduce((sum, entry) => sum + entry.seconds, 0);
    const name = module.moduleId.replace(/^.*\/suites\//, '').replace(/\.suite\.ts$/, '');
    results.push({
      case: `${name}: containers started and removed`,
      idp: cases.find((entry) => entry.idp !== '-')?.idp ?? '-',
      // Failed when a set-up or tear-down failed: the file's own, or a describe block's (an afterAll that could
      // not remove a container).
      result: [module, ...module.children.allSuites()].some((entity) => entity.errors().length > 0)
        ? 'failed'
        : cases.every((entry) => entry.result === 'skipped')
          ? 'skipped'
          : 'passed',
      seconds: Math.max(0, Math.round((module.diagnostic().duration / 1000 - inCases) * 10) / 10),
    });
  }
  return results;
}

/** The summary table: case, IdP, result, seconds, one row per case. */
export function formatTable(cases: readonly CaseResult[]): string {
  const rows = [
    ['case', 'IdP', 'result', 'seconds'],
    ...cases.map((c) => [c.case, c.idp, c.result, c.seconds.toFixed(1)]),
  ];
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => row[column]?.length ?? 0))) ?? [];
  const line = (row: string[]) =>
    `| ${row.map((cell, column) => (column === 3 ? cell.padStart(widths[column] ?? 0) : cell.padEnd(widths[column] ?? 0))).join(' | ')} |`;
  const rule = `| ${widths.map((width, column) => (column === 3 ? `${'-'.repeat(width - 1)}:` : '-'.repeat(width))).join(' | ')} |`;
  return [line(rows[0] ?? []), rule, ...rows.slice(1).map(line)].join('\n');
}

/**
 * A vitest reporter for the conformance run: writes the cases to `PORTCULLIS_CONFORMANCE_CASES` (JSON), from which
 * the runner prints the table and writes the report with the images' figures.
 */
export default class ConformanceReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const file = process.env.PORTCULLIS_CONFORMANCE_CASES;
    if (file === undefined) return;
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify(caseResults(modules), null, 2));
  }
}

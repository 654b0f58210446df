import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = new URL('../../', import.meta.url).pathname;

/** Where the repository's TypeScript lives: every folder of code, tests included, and the package entry. */
const SOURCE_FOLDERS = ['core', 'plugins', 'secrets', 'bin', 'conformance', 'examples', 'bench'];

/** One source file: its path from the repository root, and its text. */
export interface SourceFile {
  readonly path: string;
  readonly text: string;
}

/** The `.ts` files under `folder` (a path from the root), skipping `node_modules` and `dist`. */
function tsFilesUnder(folder: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(join(ROOT, folder), { withFileTypes: true })) {
    const path = join(folder, entry.name);
    if (entry.isDirectory() && entry.name !== 'node_modules' && entry.name !== 'dist') {
      found.push(...tsFilesUnder(path));
    } else if (entry.isFile() && entry.name.endsWith('.ts')) found.push(path);
  }
  return found;
}

let cached: SourceFile[] | undefined;

/** Every `.ts` file of the repository's own code (not `node_modules`, not `dist`), tests included; read once. */
export function sourceFiles(): readonly SourceFile[] {
  cached ??= ['index.ts', ...SOURCE_FOLDERS.flatMap(tsFilesUnder)]
    .sort()
    .map((path) => ({ path, text: readFileSync(join(ROOT, path), 'utf8') }));
  return cached;
}

/** The text of the README section under `## <title>`, up to the next `## ` heading. */
export function readmeSection(title: string): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf(`\n## ${title}\n`);
  if (start === -1) throw new Error(`the README has no section "## ${title}"`);
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end === -1 ? undefined : end);
}

/** The rows of the Markdown tables in `text` whose first cell is a code span: that span, then the other cells. */
export function tableRows(text: string): Array<{ key: string; cells: string[] }> {
  const rows: Array<{ key: string; cells: string[] }> = [];
  for (const line of text.split('\n')) {
    const match = /^\| `([^`]+)` \|(.*)\|$/.exec(line);
    if (match === null) continue;
    rows.push({
      key: match[1] as string,
      cells: (match[2] as string).split(' | ').map((cell) => cell.trim()),
    });
  }
  return rows;
}

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { onTestFinished } from 'vitest';

/** A fresh folder, removed when the current test ends. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-test-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes `files` (relative path → contents) under a fresh folder and returns the folder. */
export function tempFiles(files: Readonly<Record<string, string>>): string {
  const dir = tempDir();
  for (const [name, contents] of Object.entries(files)) {
    const path = join(dir, name);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, contents);
  }
  return dir;
}

/** A fresh folder for a whole test file (from `beforeAll`), removed when the test process exits. */
export function tempDirForSuite(): string {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-suite-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

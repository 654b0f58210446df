/**
 * Flipt's config error wording (`internal/config/errors.go`), so that portcullis reports a rule Flipt also has
 * in the words Flipt uses.
 */

/** `<typ>: <field> non-empty value is required` */
export function requiredMessage(typ: string, field: string): string {
  return `${typ}: ${field} non-empty value is required`;
}

/** `<typ>: <field> <detail>` */
export function fieldMessage(typ: string, field: string, detail: string): string {
  return `${typ}: ${field} ${detail}`;
}

/** Whether a configured string is unset in Flipt's sense (absent or empty). */
export function isBlank(value: unknown): boolean {
  return value === undefined || value === null || value === '';
}

const STAT_REASONS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file or directory',
  ENOTDIR: 'not a directory',
  EACCES: 'permission denied',
  ELOOP: 'too many levels of symbolic links',
};

/** Why a stat of `path` failed, in Go's words (`stat /x: no such file or directory`). */
export function statFailure(path: string, error: unknown): string {
  const { code, message } = error as NodeJS.ErrnoException;
  return `stat ${path}: ${(code !== undefined && STAT_REASONS[code]) || message}`;
}

/**
 * Flipt's config error wording (`internal/config/errors.go`), so that portcullis reports a rule Flipt also has
 * in the words Flipt uses.
 */
import { mentioning, valueText } from './describe-value.ts';

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
  ENAMETOOLONG: 'file name too long',
  // Node refuses a path holding a NUL byte before asking the system; Go's stat answers this.
  ERR_INVALID_ARG_VALUE: 'invalid argument',
};

/**
 * Why a stat of `path` failed, in Go's words (`stat /x: no such file or directory`), the path escaped and cut as
 * every value in a message is (Node's own text, for a reason Go's words are not known for, may repeat it).
 */
export function statFailure(path: string, error: unknown): string {
  const { code, message } = error as NodeJS.ErrnoException;
  const reason = (code !== undefined && STAT_REASONS[code]) || mentioning(String(message), path);
  return `stat ${valueText(path)}: ${reason}`;
}

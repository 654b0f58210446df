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

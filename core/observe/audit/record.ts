import type { AuditActor, JsonValue } from '../../plugins/contracts.ts';

/**
 * What portcullis or a plugin records, before the audit stream stamps it with Flipt's `version` and `timestamp`:
 * Flipt's event (`internal/server/audit/events.go`, `Event`) without those two. `type` and `action` are what the
 * `audit.events` filters (`type:action`, `*` for either) match.
 */
export interface AuditRecord {
  /** The noun: `token`, `authentication`, `login`, `logout`, `plugin`. */
  readonly type: string;
  /** The verb, past tense where Flipt's are (`created`, `deleted`, `succeeded`, `refused`, ...). */
  readonly action: string;
  /** `success`, or `denied` for a refusal (Flipt's `StatusDenied`). */
  readonly status: 'success' | 'denied';
  readonly actor?: AuditActor;
  /** Never a credential or a secret value. */
  readonly payload?: { readonly [key: string]: JsonValue };
}

/** Where records go: the audit stream of a runtime (or nothing, when no sink is enabled). Never waits. */
export interface AuditRecorder {
  /** Whether a record of this `type:action` would be kept (the `audit.events` filters, and a sink enabled). */
  wants(type: string, action: string): boolean;
  record(record: AuditRecord): void;
  /**
   * Counts records not made because they were over a rate (refused requests past the per-second budget the
   * decision log keeps): `portcullis_audit_events_dropped_total{cause="rate_limited"}`.
   */
  rateLimited(count: number): void;
}

/** The recorder of a runtime with no audit sink enabled. */
export const NO_AUDIT: AuditRecorder = {
  wants: () => false,
  record: () => undefined,
  rateLimited: () => undefined,
};

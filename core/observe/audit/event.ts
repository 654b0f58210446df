import type { AuditActor, JsonValue } from '../../plugins/contracts.ts';
import type { AuditRecord } from './record.ts';

/** Flipt's event version (`internal/server/audit/events.go`). */
export const EVENT_VERSION = '0.2';

/**
 * An audit event as sinks send it: Flipt's `audit.Event`, its fields in the order Flipt's JSON writes them. An
 * actor's empty fields, and an absent actor, are left out as Flipt's `omitempty` leaves them; no payload is `null`.
 */
export interface AuditEvent {
  readonly version: typeof EVENT_VERSION;
  readonly type: string;
  readonly action: string;
  readonly metadata: { readonly actor?: AuditActor };
  readonly payload: { readonly [key: string]: JsonValue } | null;
  /** RFC 3339 in UTC, to the second (`2025-01-31T12:00:00Z`). */
  readonly timestamp: string;
  readonly status: 'success' | 'denied';
}

const ACTOR_FIELDS = ['authentication', 'ip', 'email', 'name', 'picture'] as const;

/** `record` stamped with Flipt's version and the time `now`. */
export function stampEvent(record: AuditRecord, now: Date): AuditEvent {
  const actor: { -readonly [K in keyof AuditActor]: string } = {};
  for (const field of ACTOR_FIELDS) {
    const value = record.actor?.[field];
    if (typeof value === 'string' && value !== '') actor[field] = value;
  }
  return {
    version: EVENT_VERSION,
    type: record.type,
    action: record.action,
    metadata: Object.keys(actor).length > 0 ? { actor } : {},
    payload: record.payload ?? null,
    timestamp: rfc3339Seconds(now),
    status: record.status === 'denied' ? 'denied' : 'success',
  };
}

/** `2025-01-31T12:00:00Z`: Go's `time.RFC3339` of a UTC time. */
export function rfc3339Seconds(time: Date): string {
  return `${time.toISOString().slice(0, 19)}Z`;
}

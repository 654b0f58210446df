import { ErrorCodes, PortcullisError } from '../errors.ts';
import type { Authentication, AuthenticationFilter } from '../plugins/contracts.ts';
import type { StoredExtras } from './types.ts';

/** Copies an authentication so that no caller can change what the store holds. */
export function copyAuthentication(authentication: Authentication): Authentication {
  const copy = (date: Date | undefined) => (date === undefined ? undefined : new Date(date.getTime()));
  return {
    id: authentication.id,
    method: authentication.method,
    ...(authentication.expiresAt && { expiresAt: copy(authentication.expiresAt) }),
    ...(authentication.createdAt && { createdAt: copy(authentication.createdAt) }),
    ...(authentication.updatedAt && { updatedAt: copy(authentication.updatedAt) }),
    metadata: { ...authentication.metadata },
  };
}

/** Flipt's message for a delete without any predicate. */
export const DELETE_NEEDS_PREDICATE = 'id, method or expired-before timestamp is required';
/** Flipt's message when an authentication id is unknown. */
export const AUTHENTICATION_NOT_FOUND = 'getting authentication by id not found';

/** Whether `extras` and `authentication` match every field `filter` sets. */
export function matchesFilter(
  authentication: Authentication,
  extras: StoredExtras,
  filter: AuthenticationFilter,
): boolean {
  const { expiresAt } = authentication;
  return (
    (filter.id === undefined || authentication.id === filter.id) &&
    (filter.method === undefined || authentication.method === filter.method) &&
    (filter.expiredBefore === undefined ||
      (expiresAt !== undefined && expiresAt.getTime() < filter.expiredBefore.getTime())) &&
    (filter.provider === undefined || extras.provider === filter.provider) &&
    (filter.subject === undefined || extras.subject === filter.subject) &&
    (filter.sessionId === undefined || extras.sessionId === filter.sessionId)
  );
}

/** Refuses a delete that names nothing (it would delete everything), as Flipt does. */
export function assertDeletePredicate(filter: AuthenticationFilter): void {
  if (filter.id === undefined && filter.method === undefined && filter.expiredBefore === undefined) {
    throw new PortcullisError(ErrorCodes.INVALID_ARGUMENT, DELETE_NEEDS_PREDICATE);
  }
}

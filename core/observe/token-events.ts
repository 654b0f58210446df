import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AuditRecorder } from './audit/record.ts';
import { clientActor, requestClient } from './client.ts';

/**
 * An `onSend` hook for the `token` method's routes: a client token created through Flipt's CreateToken route
 * (`POST /auth/v1/method/token`, which gRPC `CreateToken` reaches in process too) is recorded as Flipt's
 * `token:created` event, the new token's metadata as its payload (Flipt's `CreateTokenResponse` case in
 * `internal/server/middleware/grpc/middleware.go`), the caller as its actor. The bootstrap token made at start-up is
 * no API call and is not recorded.
 */
export function tokenCreatedHook(path: string, audit: AuditRecorder, trustedProxies: readonly string[]) {
  return async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    if (request.method !== 'POST' || reply.statusCode !== 200 || typeof payload !== 'string') return payload;
    const url = request.routeOptions.url;
    if (url !== path && url !== `${path}/`) return payload;
    let created: { authentication?: { metadata?: Record<string, unknown> } };
    try {
      created = JSON.parse(payload) as typeof created;
    } catch {
      return payload;
    }
    const metadata = created.authentication?.metadata;
    if (typeof metadata !== 'object' || metadata === null) return payload;
    audit.record({
      type: 'token',
      action: 'created',
      status: 'success',
      actor: clientActor(requestClient(request, trustedProxies)),
      payload: Object.fromEntries(
        Object.entries(metadata).filter(([, value]) => typeof value === 'string'),
      ) as Record<string, string>,
    });
    return payload;
  };
}

import type { MethodStore } from '../plugins/contracts.ts';
import { type AuditRecorder, NO_AUDIT } from './audit/record.ts';
import { currentActor, currentClient } from './client.ts';

/**
 * The store the `token` method gets: the runtime's, with each client token created through the API (`POST
 * /auth/v1/method/token`, gRPC `CreateToken`) recorded as Flipt's `token:created` event, the new token's metadata
 * as its payload (Flipt's `CreateTokenResponse` case in `internal/server/middleware/grpc/middleware.go`). A token
 * created outside a request (the bootstrap token at start-up) is not an API event and is not recorded.
 */
export function auditedTokens(store: MethodStore, audit: AuditRecorder): MethodStore {
  if (audit === NO_AUDIT) return store;
  return new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (property !== 'createAuthentication' || typeof value !== 'function') {
        return typeof value === 'function' ? value.bind(target) : value;
      }
      const create = value as MethodStore['createAuthentication'];
      return async (...args: Parameters<MethodStore['createAuthentication']>) => {
        const created = await create.apply(target, args);
        if (currentClient() !== undefined && audit.wants('token', 'created')) {
          audit.record({
            type: 'token',
            action: 'created',
            status: 'success',
            actor: currentActor(),
            payload: { ...created.authentication.metadata },
          });
        }
        return created;
      };
    },
  });
}

import type { FastifyInstance } from 'fastify';
import type { MethodContext } from '../../core/plugins/kit/index.ts';
import { authenticationJson, ErrorCodes, PluginError, timestampField } from '../../core/plugins/kit/index.ts';

/** Where Flipt keeps a token's name, description and namespace: in its metadata. */
export const TOKEN_NAME_KEY = 'io.flipt.auth.token.name';
export const TOKEN_DESCRIPTION_KEY = 'io.flipt.auth.token.description';
export const TOKEN_NAMESPACE_KEY = 'io.flipt.auth.token.namespace';
const RESERVED_PREFIX = 'io.flipt.auth.';
const INVALID_BODY = 'invalid values for key(s) in json body';

/** Bounds on what one request may store, so that minting tokens cannot exhaust the store. */
export const TOKEN_LIMITS = {
  bodyBytes: 16 * 1024,
  name: 256,
  description: 1024,
  metadataEntries: 32,
  metadataKey: 128,
  metadataValue: 1024,
} as const;

interface CreateTokenRequest {
  readonly name: string;
  readonly description: string;
  readonly namespaceKey: string;
  readonly expiresAt: Date | undefined;
  readonly metadata: Readonly<Record<string, string>>;
}

function invalid(message: string): PluginError {
  return new PluginError(ErrorCodes.INVALID_ARGUMENT, message);
}

/**
 * A protojson field, by its JSON name or its proto name, and the name it was given by. Both at once is one field
 * given twice, which protojson refuses ("duplicate field").
 */
function field(body: Record<string, unknown>, json: string, proto: string): { name: string; value: unknown } {
  const given = [json, proto].filter((name) => Object.hasOwn(body, name));
  if (given.length > 1) throw invalid(`${json} and ${proto} are the same field: give it once`);
  const name = given[0] ?? json;
  return { name, value: body[name] };
}

function text(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw invalid(INVALID_BODY);
  return value;
}

/** Reads a `CreateTokenRequest` body (camelCase or proto names; unknown fields ignored, as grpc-gateway does). */
function readCreateTokenRequest(body: unknown, now: Date): CreateTokenRequest {
  const fields = body ?? {};
  if (typeof fields !== 'object' || Array.isArray(fields)) throw invalid(INVALID_BODY);
  const record = fields as Record<string, unknown>;
  const name = text(record.name);
  if (name.trim() === '') throw invalid('name must not be empty');
  if (name.length > TOKEN_LIMITS.name) throw invalid(`name must be at most ${TOKEN_LIMITS.name} characters`);
  const description = text(record.description);
  if (description.length > TOKEN_LIMITS.description) {
    throw invalid(`description must be at most ${TOKEN_LIMITS.description} characters`);
  }

  const expiry = field(record, 'expiresAt', 'expires_at');
  const expiresAt = timestampField(expiry.name, expiry.value);
  if (expiresAt !== undefined && expiresAt.getTime() <= now.getTime()) {
    throw invalid(`${expiry.name} must be in the future`);
  }

  const rawMetadata = record.metadata ?? {};
  if (typeof rawMetadata !== 'object' || rawMetadata === null || Array.isArray(rawMetadata))
    throw invalid(INVALID_BODY);
  const entries = Object.entries(rawMetadata);
  if (entries.length > TOKEN_LIMITS.metadataEntries) {
    throw invalid(`metadata may hold at most ${TOKEN_LIMITS.metadataEntries} entries`);
  }
  for (const [key, value] of entries) {
    if (typeof value !== 'string') throw invalid(INVALID_BODY);
    if (key.length > TOKEN_LIMITS.metadataKey || value.length > TOKEN_LIMITS.metadataValue) {
      throw invalid(
        `metadata keys must be at most ${TOKEN_LIMITS.metadataKey} characters and values ${TOKEN_LIMITS.metadataValue}`,
      );
    }
    if (key.startsWith(RESERVED_PREFIX)) {
      throw invalid(
        `metadata key "${key}" is reserved: keys starting with ${RESERVED_PREFIX} are set by the server`,
      );
    }
  }
  return {
    name,
    description,
    namespaceKey: text(field(record, 'namespaceKey', 'namespace_key').value),
    expiresAt,
    // A map key is any string to protojson, `__proto__`, `constructor` and `prototype` among them: fromEntries
    // defines each as an own key, where `metadata[key] = value` would set the prototype of `{}` and drop the entry.
    metadata: Object.fromEntries(entries) as Record<string, string>,
  };
}

/**
 * `POST /auth/v1/method/token` (Flipt v1's `CreateToken`): stores a `METHOD_TOKEN` authentication whose metadata
 * carries the name, description and namespace, and answers with its client token, shown this once.
 */
export function tokenRoutes(ctx: MethodContext) {
  return async (app: FastifyInstance): Promise<void> => {
    app.post('/', { bodyLimit: TOKEN_LIMITS.bodyBytes }, async (request) => {
      const input = readCreateTokenRequest(request.body, ctx.now());
      const { clientToken, authentication } = await ctx.store.createAuthentication({
        method: 'METHOD_TOKEN',
        ...(input.expiresAt && { expiresAt: input.expiresAt }),
        metadata: {
          ...input.metadata,
          [TOKEN_NAME_KEY]: input.name,
          ...(input.description !== '' && { [TOKEN_DESCRIPTION_KEY]: input.description }),
          ...(input.namespaceKey !== '' && { [TOKEN_NAMESPACE_KEY]: input.namespaceKey }),
        },
      });
      ctx.log.info({ id: authentication.id, name: input.name }, 'token created');
      return { clientToken, authentication: authenticationJson(authentication) };
    });
  };
}

import { timingSafeEqual } from 'node:crypto';
import { ErrorCodes, PluginError } from '../errors.ts';
import type { Authentication, KnownClientToken } from '../plugins/contracts.ts';
import { authenticationProblem, isFrozenAuthentication } from '../plugins/instance.ts';
import { hashClientToken } from './token.ts';

/** Any UTF-16 code unit above U+00FF: a string holding one is text already decoded, not bytes off the wire. */
const ABOVE_ONE_BYTE = /[\u0100-\uffff]/;

/**
 * Up to how many known tokens a request's token is compared with by value. Each comparison costs about a twentieth
 * of the SHA-256 a lookup by hash needs (25 ns against 450 ns, measured in a loop), and every token is compared on
 * every request, so past this many hashing once is the cheaper way, and the tokens are kept by hash instead.
 */
export const BY_VALUE_LIMIT = 8;

/** One token kept by value: its bytes, and the view of the shared buffer a request's token is written into. */
interface ByValue {
  readonly bytes: Buffer;
  readonly view: Buffer;
  readonly authentication: Authentication;
}

/**
 * The client tokens methods declared by value ({@link KnownClientToken}: the token method's configured static
 * tokens), matched against a request's client token before it is hashed for `findClientToken` and the store.
 *
 * With at most {@link BY_VALUE_LIMIT} tokens, {@link KnownClientTokens.match} compares the request's bytes with
 * every one of them, each with `timingSafeEqual`, whatever matched: the time taken depends on how many tokens there
 * are and how long they are, never on how much of a token a request got right, nor (unlike Go's
 * `subtle.ConstantTimeCompare` or `@fastify/bearer-auth`, which return at once on a length mismatch) on whether a
 * token of the request's length exists. This spares the hash a static token's request otherwise pays (about half
 * its decision's cost). With more, they are kept by hash, as Flipt keeps them, and {@link KnownClientTokens.find}
 * answers the hash the pipeline computes.
 *
 * Bytes as Flipt compares them: a configured credential's UTF-8 bytes against the bytes the client sent
 * (`credentialBytes`: a header value is Latin-1, one character per byte, unless it holds a character above U+00FF).
 *
 * @throws PluginError `ERR_PLUGIN_INVALID` for an empty credential, one declared twice (by its UTF-8 bytes), an
 * entry that cannot be read, or an authentication not made with `frozenAuthentication`, naming the method and never
 * the credential.
 */
export class KnownClientTokens {
  readonly #byValue: readonly ByValue[];
  readonly #byHash = new Map<string, Authentication>();
  /** Where a request's token is written, as long as the longest token kept by value. */
  readonly #scratch: Buffer;

  constructor(
    declared: ReadonlyArray<{ readonly method: string; readonly tokens: readonly KnownClientToken[] }>,
  ) {
    const all: Array<{ bytes: Buffer; authentication: Authentication }> = [];
    const owners = new Map<string, string>();
    for (const { method, tokens } of declared) {
      const fail = (problem: string): never => {
        throw new PluginError(ErrorCodes.PLUGIN_INVALID, `plugin "${method}": clientTokens ${problem}`, {
          plugin: method,
        });
      };
      if (!Array.isArray(tokens)) fail('must be a list of { credential, authentication }');
      tokens.forEach((token, index) => {
        if (typeof token !== 'object' || token === null)
          fail(`[${index}] is not { credential, authentication }`);
        let credential: unknown;
        let authentication: unknown;
        try {
          ({ credential, authentication } = token);
        } catch {
          // A getter that threw: its message is the plugin's and may hold the credential, so it is not repeated.
          fail(`[${index}] cannot be read (a getter threw)`);
        }
        if (typeof credential !== 'string' || credential === '') {
          fail(`[${index}] has ${credential === '' ? 'an empty' : 'no'} credential (a non-empty string)`);
        }
        const problem = authenticationProblem(authentication);
        if (problem !== undefined) fail(`[${index}] ${problem}`);
        // Handed to every request as it is: it must be one no caller can change, checked once, when made.
        if (!isFrozenAuthentication(authentication)) {
          fail(
            `[${index}] has an authentication not made with frozenAuthentication (every request is handed it as it is)`,
          );
        }
        const bytes = Buffer.from(credential as string, 'utf8');
        // By bytes: two strings can encode alike (lone surrogates both become U+FFFD).
        const key = bytes.toString('base64');
        const owner = owners.get(key);
        if (owner !== undefined) {
          fail(
            `[${index}] has the same credential as a token of plugin "${owner}"; each token needs its own`,
          );
        }
        owners.set(key, method);
        all.push({ bytes, authentication: authentication as Authentication });
      });
    }
    const byValue = all.length <= BY_VALUE_LIMIT;
    this.#scratch = Buffer.alloc(byValue ? Math.max(0, ...all.map(({ bytes }) => bytes.length)) : 0);
    this.#byValue = byValue
      ? all.map(({ bytes, authentication }) => ({
          bytes,
          view: this.#scratch.subarray(0, bytes.length),
          authentication,
        }))
      : [];
    if (!byValue) {
      for (const { bytes, authentication } of all) this.#byHash.set(hashClientToken(bytes), authentication);
    }
  }

  /**
   * The authentication of the token kept by value whose bytes are `clientToken`'s (as the request sent them), or
   * `undefined`: none matched, or the tokens are kept by hash ({@link KnownClientTokens.find}).
   */
  match(clientToken: string): Authentication | undefined {
    const tokens = this.#byValue;
    if (tokens.length === 0) return undefined;
    const text = ABOVE_ONE_BYTE.test(clientToken);
    // The write stops at the buffer's end; a longer token has a length no kept token has, so its cut-off bytes
    // never count. Bytes past what this request wrote are an earlier one's, in views of lengths it does not have.
    const length = text ? Buffer.byteLength(clientToken, 'utf8') : clientToken.length;
    this.#scratch.write(clientToken, 0, text ? 'utf8' : 'latin1');
    let found: Authentication | undefined;
    for (const token of tokens) {
      // Every token is compared, and in full, whatever an earlier one gave.
      const same = timingSafeEqual(token.view, token.bytes);
      if (same && length === token.bytes.length) found = token.authentication;
    }
    return found;
  }

  /** The authentication of the token kept by hash whose `hashClientToken` is `tokenHash`, or `undefined`. */
  find(tokenHash: string): Authentication | undefined {
    return this.#byHash.size === 0 ? undefined : this.#byHash.get(tokenHash);
  }
}

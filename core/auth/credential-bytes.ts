import { hashClientToken } from './token.ts';

/** Any UTF-16 code unit above U+00FF (surrogates included): a character no single byte can stand for. */
const ABOVE_ONE_BYTE = /[\u0100-\uffff]/;

/**
 * The bytes of a credential taken from a request (an `Authorization` header, a cookie in a `Cookie` header, and
 * later gRPC `authorization` metadata), to be hashed or compared with the UTF-8 bytes of a configured or stored value.
 *
 * Flipt compares bytes: Go strings are bytes, a header value is kept as the bytes the client sent, and
 * `HashClientToken` hashes them as they are, against a configured credential's UTF-8 bytes. HTTP field values are
 * octets too (RFC 9110 §5.5). Node hands a header value over as a Latin-1 string, one character per byte; hashing
 * that string as text would encode it a second time, as UTF-8, and a client sending `pässwörd` in UTF-8 (as every
 * client does) would never match. Hence the rule:
 * - a string whose characters are all at most U+00FF is bytes off the wire, one byte per character;
 * - a string holding any character above U+00FF cannot have come off the wire that way: it is text already decoded
 *   (a header set through Fastify's `inject`, metadata a gRPC library decoded as UTF-8), and its UTF-8 bytes are
 *   taken. Reading it as Latin-1 would silently drop each such character's high byte, and two different credentials
 *   (`š` and `a`) would become the same bytes.
 *
 * The one ambiguous case is text made only of characters up to U+00FF that an embedding application passes itself
 * (`inject` with `Bearer pässwörd`): it is read as bytes, exactly as the same characters arriving from a client, so
 * such a caller gives the wire form, `Buffer.from(text).toString('latin1')`.
 */
export function credentialBytes(headerValue: string): Buffer {
  return Buffer.from(headerValue, ABOVE_ONE_BYTE.test(headerValue) ? 'utf8' : 'latin1');
}

/** Any character outside ASCII: where a string's UTF-8 bytes differ from the bytes it stands for. */
const NOT_ASCII = /[\u0080-\uffff]/;

/**
 * `hashClientToken(credentialBytes(headerValue))` ({@link credentialBytes}): the stored form of a client token taken
 * from a request. An ASCII string (what every generated or sensibly configured token is) is hashed as it is, since
 * its UTF-8 bytes are the bytes it stands for, without the copy into a `Buffer` (a sixth of the lookup's cost).
 */
export function hashCredential(headerValue: string): string {
  return hashClientToken(NOT_ASCII.test(headerValue) ? credentialBytes(headerValue) : headerValue);
}

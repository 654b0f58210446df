import type { FastifyReply, FastifyRequest } from 'fastify';
import { appendCookie, cookiePairs, FLASH_COOKIE, readCookie } from '../core/http/cookies.ts';

/**
 * One-time messages between a redirect and the page it leads to (the post/redirect/get pattern): a login refusal
 * shown on the login page, a new client token shown once on the tokens page. Carried in a cookie rather than the
 * query, so that a link cannot make the page say something (content spoofing) nor a token sit in history or logs;
 * the cookie is `HttpOnly`, `SameSite=Strict` except where a cross-site redirect must carry it, limited to the page's
 * path, lives a minute at most, and is cleared by the page that shows it.
 */
export { FLASH_COOKIE };

/** How long a flash waits for its page (seconds). */
const FLASH_MAX_AGE_S = 60;
/** A message longer than this is cut: it travels in a cookie (browsers cap one at about 4 KiB). */
const MAX_TEXT = 600;

/** What a flash carries. */
export interface Flash {
  readonly kind: 'error' | 'notice' | 'created';
  /** Plain text, escaped when shown. */
  readonly text: string;
  /** `created` only: the new client token, shown this once. */
  readonly clientToken?: string;
}

export interface FlashCookieOptions {
  /** The page that will show it (its path, with any forwarded prefix). */
  readonly path: string;
  readonly secure: boolean;
  /** `Lax` when the redirect to the page starts on another site (a provider's callback). */
  readonly sameSite: 'Strict' | 'Lax';
}

export function setFlash(reply: FastifyReply, flash: Flash, options: FlashCookieOptions): void {
  const text = flash.text.length > MAX_TEXT ? `${flash.text.slice(0, MAX_TEXT - 1)}…` : flash.text;
  appendCookie(reply, {
    name: FLASH_COOKIE,
    value: Buffer.from(JSON.stringify({ ...flash, text })).toString('base64url'),
    path: options.path,
    maxAge: FLASH_MAX_AGE_S,
    httpOnly: true,
    secure: options.secure,
    sameSite: options.sameSite,
  });
}

/**
 * The flash the request carries, if any well-formed one; it is cleared on the reply whether or not it could be
 * read, so that a reload does not show it again.
 */
export function takeFlash(
  request: FastifyRequest,
  reply: FastifyReply,
  options: Omit<FlashCookieOptions, 'sameSite'>,
): Flash | undefined {
  const header = request.headers.cookie;
  // Any pair of that name is cleared, even one readCookie will not read (a backslash, a comma in it).
  if (header === undefined || !cookiePairs(header).some((pair) => pair.startsWith(`${FLASH_COOKIE}=`))) {
    return undefined;
  }
  appendCookie(reply, {
    name: FLASH_COOKIE,
    value: '',
    path: options.path,
    maxAge: -1,
    httpOnly: true,
    secure: options.secure,
    sameSite: 'Strict',
  });
  const raw = readCookie(header, FLASH_COOKIE);
  if (raw === undefined) return undefined;
  try {
    const value = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as Partial<Flash>;
    const kind = value.kind;
    if ((kind !== 'error' && kind !== 'notice' && kind !== 'created') || typeof value.text !== 'string') {
      return undefined;
    }
    return {
      kind,
      text: value.text.slice(0, MAX_TEXT),
      ...(kind === 'created' && typeof value.clientToken === 'string' && { clientToken: value.clientToken }),
    };
  } catch {
    return undefined;
  }
}

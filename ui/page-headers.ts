import type { FastifyReply } from 'fastify';

/**
 * A strict Content-Security-Policy: nothing but this origin's own script, styles and images, no inline script or
 * style (no `unsafe-inline`), no framing (clickjacking), no `<base>`, forms posted only here. `images` adds origins a
 * page shows a picture from (a provider's avatar URL): each `scheme://host[:port]`, nothing wider.
 *
 * `form-action 'self'` also covers the redirects that follow a form (CSP Level 3), which is why log out sends the
 * browser to a provider's end-session endpoint from a page of its own rather than with a redirect.
 */
export function contentSecurityPolicy(images: readonly string[] = []): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    `img-src ${["'self'", ...images].join(' ')}`,
    "connect-src 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
}

/**
 * Headers of every page: the CSP, no caching (a page may show a client token once, or who is signed in), no MIME
 * sniffing, no framing for browsers without CSP 2, and no referrer (a page's query may hold a `return_to`).
 */
export function pageHeaders(reply: FastifyReply, images: readonly string[] = []): FastifyReply {
  return reply
    .header('content-type', 'text/html; charset=utf-8')
    .header('content-security-policy', contentSecurityPolicy(images))
    .header('cache-control', 'no-store')
    .header('x-content-type-options', 'nosniff')
    .header('x-frame-options', 'DENY')
    .header('referrer-policy', 'no-referrer');
}

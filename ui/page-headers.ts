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
 * Headers of every answer of the UI, redirects included (several set cookies, one a new client token): the CSP, no
 * caching unless the answer says otherwise (a page may show a client token once, or who is signed in; assets set
 * their own), no MIME sniffing, no framing for browsers without CSP 2, and no referrer (a query may hold a
 * `return_to`). A header already set is kept (a page's CSP with its images).
 */
export function securityHeaders(reply: FastifyReply): FastifyReply {
  const defaults: ReadonlyArray<readonly [string, string]> = [
    ['content-security-policy', contentSecurityPolicy()],
    ['cache-control', 'no-store'],
    ['x-content-type-options', 'nosniff'],
    ['x-frame-options', 'DENY'],
    ['referrer-policy', 'no-referrer'],
  ];
  for (const [name, value] of defaults) if (!reply.hasHeader(name)) reply.header(name, value);
  return reply;
}

/** A page's headers: HTML, its CSP (with the origins of the images it shows), and {@link securityHeaders}. */
export function pageHeaders(reply: FastifyReply, images: readonly string[] = []): FastifyReply {
  return securityHeaders(
    reply
      .header('content-type', 'text/html; charset=utf-8')
      .header('content-security-policy', contentSecurityPolicy(images)),
  );
}

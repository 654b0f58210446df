import { isIP } from 'node:net';
import { Cookie, CookieJar } from 'tough-cookie';
import { Agent, buildConnector, fetch as undiciFetch } from 'undici';

/** One HTTP response as a browser saw it, with the body read. */
export interface Page {
  readonly url: string;
  readonly status: number;
  readonly headers: Headers;
  readonly body: string;
}

/** A form found in a page: where it posts and the values its inputs already hold. */
export interface Form {
  readonly action: string;
  readonly method: string;
  readonly fields: Record<string, string>;
}

const attribute = (tag: string, name: string) =>
  new RegExp(`\\s${name}="([^"]*)"`, 'i').exec(tag)?.[1]?.replaceAll('&amp;', '&');

/** The forms of an HTML page (enough HTML for the login, consent and logout pages of an identity provider). */
export function formsOf(page: Page): Form[] {
  return [...page.body.matchAll(/<form\b[^>]*>[\s\S]*?<\/form>/gi)].map(([html]) => {
    const open = /<form\b[^>]*>/i.exec(html)?.[0] ?? '';
    const fields: Record<string, string> = {};
    for (const [input] of html.matchAll(/<(input|button)\b[^>]*>/gi)) {
      const name = attribute(input, 'name');
      if (name !== undefined) fields[name] = attribute(input, 'value') ?? '';
    }
    return {
      action: new URL(attribute(open, 'action') ?? page.url, page.url).href,
      method: (attribute(open, 'method') ?? 'get').toUpperCase(),
      fields,
    };
  });
}

/** How a {@link Browser} connects. */
export interface BrowserOptions {
  /** Extra trusted CA certificates (PEM) for HTTPS. */
  readonly ca?: string;
  /**
   * Where to connect for a host, as Chromium's `--host-resolver-rules`: `host:port` as written in URLs (the port
   * always written, `80` or `443` for a URL that leaves it out) → `address:port` to open the socket to, e.g.
   * `{ 'idp:5556': '127.0.0.1:49153' }`. URLs, cookies, the `Host` header and the TLS server name stay those of the
   * URL; only the socket goes elsewhere. Hosts not listed are resolved as usual.
   */
  readonly hosts?: Readonly<Record<string, string>>;
}

/** An undici connector that opens sockets for the hosts of `hosts` at their mapped addresses. */
function mappedConnector(hosts: Readonly<Record<string, string>>, tls: buildConnector.BuildOptions) {
  const connect = buildConnector(tls);
  const targets = new Map(
    Object.entries(hosts).map(([from, to]) => {
      // Parsed once, so that a mistyped target fails at construction rather than at the first request.
      const target = new URL(`http://${to}`);
      if (target.port === '') throw new Error(`Browser hosts: "${to}" (for ${from}) needs a port`);
      return [from, target] as const;
    }),
  );
  return (options: buildConnector.Options, callback: buildConnector.Callback) => {
    const port = options.port || (options.protocol === 'https:' ? '443' : '80');
    const target = targets.get(`${options.hostname}:${port}`);
    if (target === undefined) return connect(options, callback);
    return connect(
      {
        ...options,
        hostname: target.hostname.replace(/^\[(.*)\]$/, '$1'),
        host: target.host,
        port: target.port,
        // TLS still sends, and checks the certificate against, the name in the URL (not an address: no SNI for one).
        ...(options.protocol === 'https:' &&
          isIP(options.hostname) === 0 && { servername: options.servername || options.hostname }),
      },
      callback,
    );
  };
}

/**
 * A scripted browser over real HTTP: a cookie jar (RFC 6265, by tough-cookie), redirects followed one by one so
 * that every `Set-Cookie` along the way lands in the jar, and forms submitted as a user would.
 */
export class Browser {
  readonly jar = new CookieJar();
  readonly #dispatcher: Agent;
  /** Every URL visited, in order (redirects included). */
  readonly history: string[] = [];

  constructor(options: BrowserOptions = {}) {
    const tls = options.ca === undefined ? {} : { ca: options.ca };
    this.#dispatcher = new Agent(
      options.hosts === undefined ? { connect: tls } : { connect: mappedConnector(options.hosts, tls) },
    );
  }

  /**
   * Stores a `Set-Cookie` as a browser would. tough-cookie refuses a `Domain` that is a public suffix outright, but
   * RFC 6265 §5.3 step 5 (and Chromium) keep the cookie, host-only, when that domain is the request's host: a
   * single-label host such as a container's name (`portcullis`) is a public suffix by the list's default rule.
   */
  async #store(setCookie: string, url: string): Promise<void> {
    try {
      await this.jar.setCookie(setCookie, url);
    } catch {
      const cookie = Cookie.parse(setCookie);
      if (cookie?.domain?.replace(/^\./, '').toLowerCase() !== new URL(url).hostname.toLowerCase()) return;
      cookie.domain = null;
      await this.jar.setCookie(cookie, url, { ignoreError: true });
    }
  }

  /** One request, no redirect followed; cookies sent and stored. */
  async request(
    url: string,
    init: { method?: string; body?: string; headers?: Record<string, string> } = {},
  ) {
    const cookie = await this.jar.getCookieString(url);
    const response = await undiciFetch(url, {
      method: init.method ?? 'GET',
      redirect: 'manual',
      dispatcher: this.#dispatcher,
      headers: { ...(cookie !== '' && { cookie }), ...init.headers },
      ...(init.body !== undefined && { body: init.body }),
    });
    for (const setCookie of response.headers.getSetCookie()) await this.#store(setCookie, url);
    this.history.push(url);
    const page: Page = {
      url,
      status: response.status,
      headers: response.headers as unknown as Headers,
      body: await response.text(),
    };
    return page;
  }

  /** A request, then every redirect after it, until a page that is not a redirect or `stop` says so. */
  async navigate(
    url: string,
    init: { method?: string; body?: string; headers?: Record<string, string> } = {},
    stop: (page: Page) => boolean = () => false,
  ): Promise<Page> {
    let page = await this.request(url, init);
    for (let hops = 0; page.status >= 300 && page.status < 400 && !stop(page); hops++) {
      if (hops > 20) throw new Error(`too many redirects from ${url}`);
      const location = page.headers.get('location');
      if (location === null) break;
      page = await this.request(new URL(location, page.url).href);
    }
    return page;
  }

  /** Submits a form with some fields filled in, following redirects as `navigate` does. */
  submit(form: Form, values: Record<string, string> = {}, stop?: (page: Page) => boolean): Promise<Page> {
    const body = new URLSearchParams({ ...form.fields, ...values }).toString();
    return this.navigate(
      form.action,
      { method: form.method, body, headers: { 'content-type': 'application/x-www-form-urlencoded' } },
      stop,
    );
  }

  /** The value of a cookie the jar would send to `url`. */
  async cookie(url: string, name: string): Promise<string | undefined> {
    return (await this.jar.getCookies(url)).find((cookie) => cookie.key === name)?.value;
  }

  close(): Promise<void> {
    return this.#dispatcher.close();
  }
}

/** One button of the login page. */
export interface LoginButton {
  /** `Login with <label>`. */
  readonly label: string;
  /** Path segments of its start route, `/auth/ui/login/<method>[/<provider>]`. */
  readonly method: string;
  readonly provider?: string;
  /**
   * How the login starts: an `authorize` URL of the API (a path, with any prefix) that answers `{authorizeUrl}`
   * (OIDC, GitHub, plugins that follow them), or a page of the method's own to send the browser to (`login_url`).
   */
  readonly start: { readonly authorize: string } | { readonly page: string };
}

/** A method as `GET /auth/v1/method` lists it. */
export interface ListedMethod {
  readonly method: string;
  readonly enabled: boolean;
  readonly sessionCompatible: boolean;
  readonly metadata?: unknown;
}

/**
 * How Flipt's UI writes the providers it knows (`ui/src/app/auth/Login.tsx`, `knownProviders`); any other name has
 * its first letter capitalised, as Flipt's `upperFirst` does.
 */
const KNOWN_NAMES: Readonly<Record<string, string>> = {
  google: 'Google',
  gitlab: 'GitLab',
  auth0: 'Auth0',
  github: 'GitHub',
};

/** A provider's or method's name as a button shows it: `google` → `Google`, `github` → `GitHub`, `okta` → `Okta`.
 */
export function displayName(name: string): string {
  return KNOWN_NAMES[name.toLowerCase()] ?? `${name.charAt(0).toUpperCase()}${name.slice(1)}`;
}

/** The built-in methods as people write them; a plugin's method gets its name with the first letter capitalised. */
const METHOD_NAMES: Readonly<Record<string, string>> = {
  token: 'Token',
  oidc: 'OIDC',
  github: 'GitHub',
  kubernetes: 'Kubernetes',
  jwt: 'JWT',
};

/** A method's enum name as a page shows it: `METHOD_OIDC` → `OIDC`, `METHOD_TOKEN` → `Token`. */
export function methodName(method: string): string {
  const segment = methodSegment(method);
  return METHOD_NAMES[segment] ?? displayName(segment);
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/** `METHOD_OIDC` → `oidc`: the segment of a method in the UI's start routes. */
export function methodSegment(method: string): string {
  return method.replace(/^METHOD_/, '').toLowerCase();
}

/**
 * The login page's buttons, from the method list, in its order: one per provider of an enabled session-compatible
 * method whose metadata has `providers: {<name>: {authorize_url}}` (OIDC), one for a method whose metadata has
 * `authorize_url` (GitHub) or `login_url` (a plugin with a page of its own). A method with none of these has no
 * browser login, and no button.
 */
export function loginButtons(methods: readonly ListedMethod[]): LoginButton[] {
  const buttons: LoginButton[] = [];
  for (const listed of methods) {
    if (!listed.enabled || !listed.sessionCompatible) continue;
    const metadata = record(listed.metadata) ?? {};
    const method = methodSegment(listed.method);
    const providers = record(metadata.providers);
    if (providers !== undefined) {
      for (const [provider, entry] of Object.entries(providers)) {
        const authorize = record(entry)?.authorize_url;
        if (typeof authorize !== 'string') continue;
        buttons.push({ label: displayName(provider), method, provider, start: { authorize } });
      }
    } else if (typeof metadata.authorize_url === 'string') {
      buttons.push({ label: displayName(method), method, start: { authorize: metadata.authorize_url } });
    } else if (typeof metadata.login_url === 'string') {
      buttons.push({ label: displayName(method), method, start: { page: metadata.login_url } });
    }
  }
  return buttons;
}

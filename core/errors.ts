import { escapeControls, quoteValue, VALUE_LIMIT } from './config/describe-value.ts';

/**
 * Every error portcullis raises on purpose carries a stable `code`. Code branches on `code`, never on the
 * message text, which is written for people and may change.
 */
export const ErrorCodes = {
  /** The configuration has one or more problems; `issues` lists them all. */
  CONFIG_INVALID: 'ERR_CONFIG_INVALID',
  /** No configuration file at the given or discovered path. */
  CONFIG_NOT_FOUND: 'ERR_CONFIG_NOT_FOUND',
  /** The configuration file exists but could not be read. */
  CONFIG_READ: 'ERR_CONFIG_READ',
  /** A `${secret:...}` value that is not a well-formed reference, or names a path its provider refuses. */
  SECRET_REFERENCE_INVALID: 'ERR_SECRET_REFERENCE_INVALID',
  /** A secret provider answered that the referenced secret (or key) does not exist. */
  SECRET_NOT_FOUND: 'ERR_SECRET_NOT_FOUND',
  /** One or more references could not be resolved; `failures` lists them all. */
  SECRET_RESOLUTION: 'ERR_SECRET_RESOLUTION',
  /** A secret provider could not be started or failed while fetching. */
  SECRET_PROVIDER: 'ERR_SECRET_PROVIDER',
  /** A plugin module could not be imported. */
  PLUGIN_LOAD: 'ERR_PLUGIN_LOAD',
  /** A plugin module exports no plugin, or an object that does not meet the contract. */
  PLUGIN_INVALID: 'ERR_PLUGIN_INVALID',
  /** A plugin written for a version of the kit (`apiVersion`) this portcullis does not provide. */
  PLUGIN_API_MISMATCH: 'ERR_PLUGIN_API_MISMATCH',
  /** A plugin name that is already registered. */
  PLUGIN_CONFLICT: 'ERR_PLUGIN_CONFLICT',
  /** Something a plugin threw; the message names the plugin. */
  PLUGIN_FAILED: 'ERR_PLUGIN_FAILED',
  /** The server could not start (port in use, TLS files unreadable, ...). */
  SERVER_START: 'ERR_SERVER_START',
  /** A stored object (an authentication) does not exist. */
  NOT_FOUND: 'ERR_NOT_FOUND',
  /** A request (API call or store operation) is malformed. */
  INVALID_ARGUMENT: 'ERR_INVALID_ARGUMENT',
  /** A dependency (the session store) cannot be reached right now. */
  UNAVAILABLE: 'ERR_UNAVAILABLE',
  /** A credential was refused. */
  UNAUTHENTICATED: 'ERR_UNAUTHENTICATED',
  /** The caller is known but may not do this (a login whose email `email_matches` refuses). */
  PERMISSION_DENIED: 'ERR_PERMISSION_DENIED',
  /** Too many requests of one kind; try again later. */
  RESOURCE_EXHAUSTED: 'ERR_RESOURCE_EXHAUSTED',
  /** A request failed on our side in a way whose message is safe to show (Flipt's 500s with a message). */
  INTERNAL: 'ERR_INTERNAL',
  /**
   * A key set (a JWKS URL) that has never been fetched is asked for again before its next attempt is due (fetches are
   * rate-limited, with back-off while the server fails); the token is refused for now.
   */
  JWKS_COOLDOWN: 'ERR_JWKS_COOLDOWN',
  /** A remote answer (a JWKS, an OpenID userinfo, a GitHub API answer) is longer than its reader allows. */
  BODY_TOO_LARGE: 'ERR_BODY_TOO_LARGE',
  /** A file the configuration names (a key, a CA, a certificate, a file secret) is longer than portcullis reads. */
  FILE_TOO_LARGE: 'ERR_FILE_TOO_LARGE',
} as const;

/** One of the stable error codes in {@link ErrorCodes}. */
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** Base class of every deliberate portcullis error. */
export class PortcullisError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'PortcullisError';
  }
}

/** Where a configuration value came from: a place in the file, or an environment variable. */
export type ConfigSource = { file: string; line: number; col: number } | { env: string };

/** One configuration problem, located. */
export interface LocatedIssue {
  /** Path from the root, e.g. `['authentication', 'session', 'domain']`. */
  readonly path: ReadonlyArray<string | number>;
  readonly message: string;
  readonly source?: ConfigSource;
}

/**
 * Renders a config path as operators write it: `authentication.methods.oidc.providers.google.client_id`. A key
 * that is not a plain name, or is longer than a value a message shows, is written as a quoted value is (escaped,
 * and cut with its length): a key comes from the file as a value does.
 */
export function formatPath(path: ReadonlyArray<string | number>): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (/^[A-Za-z0-9_-]+$/.test(segment) && segment.length <= VALUE_LIMIT)
      out += out === '' ? segment : `.${segment}`;
    else out += `[${quoteValue(segment)}]`;
  }
  return out === '' ? '(root)' : out;
}

/**
 * `path (line:col): message`, or `path (env NAME): message` for values set through the environment. One problem is
 * one line, whatever its message holds: every value a message names is escaped where the message is written, and
 * any control, line-separating or bidirectional character left (a key in the path, a plugin's message) is escaped
 * here, so that no value can fake another problem or restyle the terminal.
 */
export function formatIssue(issue: LocatedIssue): string {
  const where =
    issue.source === undefined
      ? ''
      : 'env' in issue.source
        ? ` (env ${issue.source.env})`
        : ` (${issue.source.line}:${issue.source.col})`;
  return escapeControls(`${formatPath(issue.path)}${where}: ${issue.message}`);
}

/**
 * How many problems a {@link ConfigError} lists. A generated file with thousands of mistakes has one or two
 * causes; the first few hundred show them, and a listing of every one would take longer to print than to read.
 */
export const LISTED_PROBLEMS = 200;

/** The line that ends a listing cut at {@link LISTED_PROBLEMS}: `… and 29800 more problems`. */
export function omittedLine(omitted: number, noun = 'problem'): string {
  return `… and ${omitted} more ${noun}${omitted === 1 ? '' : 's'}`;
}

/**
 * The configuration is invalid; {@link ConfigError.issues} holds the problems found, in file order: all of them,
 * or the first {@link LISTED_PROBLEMS} with {@link ConfigError.omitted} counting the rest.
 */
export class ConfigError extends PortcullisError {
  readonly issues: readonly LocatedIssue[];
  /** How many problems were found beyond those listed in {@link ConfigError.issues}. */
  readonly omitted: number;

  constructor(issues: readonly LocatedIssue[], file?: string) {
    const listed = issues.slice(0, LISTED_PROBLEMS);
    const omitted = issues.length - listed.length;
    const head = `${file ?? 'configuration'} has ${issues.length} problem${issues.length === 1 ? '' : 's'}`;
    const lines = [...listed.map(formatIssue), ...(omitted > 0 ? [omittedLine(omitted)] : [])];
    super(ErrorCodes.CONFIG_INVALID, `${head}:\n${lines.join('\n')}`);
    this.name = 'ConfigError';
    this.issues = listed;
    this.omitted = omitted;
  }
}

/** One reference that could not be resolved. Never holds a secret value. */
export interface SecretFailure {
  /** The reference as written, e.g. `${secret:file:ci-token}`. */
  readonly reference: string;
  readonly provider: string;
  /** Every config path where the reference appears. */
  readonly paths: ReadonlyArray<ReadonlyArray<string | number>>;
  readonly message: string;
  readonly code: ErrorCode;
}

/** Start-up stops because references could not be resolved; {@link SecretResolutionError.failures} lists them. */
export class SecretResolutionError extends PortcullisError {
  readonly failures: readonly SecretFailure[];

  constructor(failures: readonly SecretFailure[]) {
    const lines = failures.map((f) =>
      escapeControls(
        `resolving secret reference ${quoteValue(f.reference)} (provider ${quoteValue(f.provider)}, at ${f.paths.map(formatPath).join(', ')}): ${f.message}`,
      ),
    );
    super(ErrorCodes.SECRET_RESOLUTION, lines.join('\n'));
    this.name = 'SecretResolutionError';
    this.failures = failures;
  }
}

/**
 * An error a plugin throws on purpose (or the core raises about a plugin), with a stable `code` the core maps to an
 * HTTP and gRPC status (the README's error table) and an optional snake_case `reason` id that decision logs,
 * metrics and audit events carry beside the free-text message. A plugin usually raises one through
 * `ctx.error(code, message)`, which fills in `plugin`.
 *
 * The core reads `code`, `reason` and `plugin` by property, never by class, so a plugin bundling its own copy of the
 * kit is understood the same way.
 */
export class PluginError extends PortcullisError {
  /** The plugin it concerns; absent when a plugin threw it without going through `ctx.error`. */
  readonly plugin: string | undefined;
  /** A stable snake_case id of why (e.g. `token_expired`), for logs and metrics; the message stays free text. */
  readonly reason: string | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options?: { readonly plugin?: string; readonly reason?: string; readonly cause?: unknown },
  ) {
    super(code, message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PluginError';
    this.plugin = options?.plugin;
    this.reason = options?.reason;
  }
}

/** Reads the `code` of anything thrown, whether or not it is one of ours. */
export function errorCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const { code } = error as { code: unknown };
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

/**
 * A thrown value's message, for wrapping; falls back to its string form. Never throws: what a plugin throws may be
 * anything (a `Symbol`, an object without a prototype, an Error whose `message` getter throws, a revoked Proxy), and
 * the caller is already handling one error.
 */
export function errorMessage(error: unknown): string {
  try {
    return error instanceof Error ? String(error.message) : String(error);
  } catch {
    return 'a thrown value that cannot be read';
  }
}

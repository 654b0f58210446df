/**
 * The shape of a validated configuration. Keys mirror the YAML (snake_case) so that what an operator writes and
 * what code reads are the same words. After loading, every schema default is present, every value with
 * `format: duration` is a number of milliseconds, and every whitespace-separated list is an array.
 */

/** Milliseconds, converted from a Go duration such as `30m`, `1h30m` or `500ms`. */
export type DurationMs = number;

/** `authentication.session.storage.redis`. */
export interface RedisStorageConfig {
  mode: 'single' | 'cluster';
  host: string;
  port: number;
  db: number;
  username?: string;
  password?: string;
  require_tls: boolean;
  ca_cert_path?: string;
  ca_cert_bytes?: string;
  insecure_skip_tls: boolean;
  pool_size: number;
  min_idle_conn: number;
  conn_max_idle_time: DurationMs;
  net_timeout: DurationMs;
  prefix: string;
  /** How long start-up waits for Redis before giving up (portcullis). */
  startup_timeout: DurationMs;
}

/** `authentication.session`. */
export interface SessionConfig {
  domain?: string;
  secure: boolean;
  token_lifetime: DurationMs;
  state_lifetime: DurationMs;
  csrf: { key?: string; secure: boolean; trusted_origins: string[] };
  storage: {
    type: 'memory' | 'redis';
    cleanup: { grace_period: DurationMs; interval: DurationMs };
    redis: RedisStorageConfig;
  };
}

/** The part of every method block that the core reads; the rest belongs to the method's plugin. */
export interface MethodBlock {
  enabled: boolean;
  [key: string]: unknown;
}

/** `authentication`. */
export interface AuthenticationConfig {
  required: boolean;
  exclude: { evaluation: boolean; ofrep: boolean; management: boolean; metadata: boolean };
  session: SessionConfig;
  methods: Record<string, MethodBlock>;
}

/** The part of every secret provider block that the core reads. */
export interface ProviderBlock {
  enabled: boolean;
  [key: string]: unknown;
}

/** `secrets`. */
export interface SecretsConfig {
  /** How often every reference is fetched again (portcullis); 0 = resolved once at start, as Flipt. */
  refresh_interval: DurationMs;
  /** How long start-up retries a store that cannot be reached (portcullis). */
  startup_timeout: DurationMs;
  /** The most one fetch of one secret may take (portcullis). */
  fetch_timeout: DurationMs;
  providers: Record<string, ProviderBlock>;
}

/** `server`. */
export interface ServerConfig {
  host: string;
  protocol: 'http' | 'https';
  http_port: number;
  https_port: number;
  cert_file?: string;
  cert_key?: string;
  /** Flipt's gRPC port (default 9000; 0: any free port). */
  grpc_port: number;
  /** Flipt's gRPC keepalive: GOAWAY after this long without calls (unset: never). */
  grpc_conn_max_idle_time?: DurationMs;
  /** GOAWAY after a connection has lived this long (unset: never). */
  grpc_conn_max_age?: DurationMs;
  /** How long calls may go on after the max-age GOAWAY (unset: for ever). */
  grpc_conn_max_age_grace?: DurationMs;
  [key: string]: unknown;
}

/** `log`. */
export interface LogConfig {
  level: string;
  encoding: 'json' | 'console';
  file?: string;
  keys: { time?: string; level?: string; message?: string };
  [key: string]: unknown;
}

/** `gateway` (portcullis's own section). */
export interface GatewayConfig {
  upstream?: string;
  timeout: DurationMs;
  login_url?: string;
  pass_authorization: boolean;
  identity_headers: Record<string, string>;
  sections: Record<string, { prefixes: string[]; exclude: boolean }>;
  trusted_proxies: string[];
  [key: string]: unknown;
}

/** `audit.sinks.webhook.templates[]`: Flipt's Go templates, refused by portcullis when the sink is enabled. */
export interface AuditWebhookTemplate {
  url: string;
  body: string;
  headers?: Record<string, string>;
}

/** `audit` (Flipt v1's section): where audit events go, how they are batched and which are kept. */
export interface AuditConfig {
  sinks: {
    log: {
      enabled: boolean;
      /** Append JSON lines here; `""`: through the runtime's logger (message `AUDIT`). */
      file: string;
      encoding: '' | 'json' | 'console';
    };
    webhook: {
      enabled: boolean;
      url: string;
      /** The longest wait between two attempts at one event (0: 15 s, as in Flipt). */
      max_backoff_duration: DurationMs;
      /** `""`: requests are not signed. */
      signing_secret: string;
      templates: AuditWebhookTemplate[];
    };
    /** Flipt's Kafka sink: `enabled: true` is refused; the other keys are accepted and ignored. */
    kafka: { enabled: boolean; [key: string]: unknown };
  };
  buffer: {
    /** Events per batch handed to the sinks (2 to 10). */
    capacity: number;
    /** A batch is handed over this long after its first event at the latest (2 to 5 minutes). */
    flush_period: DurationMs;
    /** How many events each sink holds while it cannot deliver (portcullis); past it the oldest are dropped. */
    max_pending: number;
  };
  /** `noun:verb` filters, `*` for either (`*:*` by default). */
  events: string[];
}

/** A whole validated configuration. Flipt sections that portcullis does not use are kept as written. */
/** Flipt's `ui` section: portcullis reads `default_theme` for its web UI (the rest is accepted and ignored). */
export interface UiConfig {
  /** The theme until the reader picks one; `system` follows the browser's `prefers-color-scheme`. */
  default_theme?: 'light' | 'dark' | 'system';
}

export interface RootConfig {
  version?: string;
  ui?: UiConfig;
  authentication: AuthenticationConfig;
  secrets: SecretsConfig;
  server: ServerConfig;
  log: LogConfig;
  plugins: string[];
  gateway: GatewayConfig;
  audit: AuditConfig;
  /** Flipt's `metrics` section: `GET /metrics` served unless `enabled` is false; `require_authentication` is ours. */
  metrics: { enabled: boolean; require_authentication: boolean };
  [section: string]: unknown;
}

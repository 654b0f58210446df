import { statSync } from 'node:fs';
import { parseAddressRange } from '../address.ts';
import { parseEventFilters } from '../observe/audit/filters.ts';
import type { ConfigIssue } from '../plugins/contracts.ts';
import { isSecretReference } from '../references/parse.ts';
import { isHttpUrl, parseUrl } from '../url.ts';
import { quoteValue, valueText } from './describe-value.ts';
import { formatGoDuration } from './duration.ts';
import { fieldMessage, isBlank, requiredMessage, statFailure } from './flipt-messages.ts';
import { recordOf } from './tree.ts';
import type { RootConfig } from './types.ts';

/** A session-compatible method that is enabled, with the addresses it sends browsers back to. */
export interface SessionMethod {
  readonly name: string;
  readonly redirectAddresses: readonly string[];
}

/** The outcome of the core rules: problems (paths from the root), and notes worth a warning. */
export interface RuleOutcome {
  readonly issues: ConfigIssue[];
  readonly notes: ConfigIssue[];
}

/**
 * Flipt's session domain normalisation: `http://` is assumed when there is no scheme, then the host is kept
 * without its port (`http://localhost:8080` → `localhost`).
 */
export function normaliseDomain(raw: string): string | undefined {
  const url = parseUrl(raw.includes('://') ? raw : `http://${raw}`);
  return url === undefined || url.hostname === '' ? undefined : url.hostname;
}

function sessionRules(
  config: RootConfig,
  sessionMethods: readonly SessionMethod[],
  outcome: RuleOutcome,
): void {
  const session = recordOf(recordOf(config.authentication).session);
  const domainPath = ['authentication', 'session', 'domain'];
  if (sessionMethods.length > 0) {
    if (typeof session.domain === 'string' && session.domain !== '') {
      const domain = normaliseDomain(session.domain);
      if (domain === undefined) {
        const shown = session.domain.includes('://') ? session.domain : `http://${session.domain}`;
        outcome.issues.push({
          path: domainPath,
          // Go quotes the text (%q); so does this, escaped, and cut when long as every value in a message is.
          message: fieldMessage(
            'authentication',
            'session_domain',
            `parse ${quoteValue(shown)}: invalid URL`,
          ),
        });
      } else {
        session.domain = domain;
      }
    } else if (session.domain === undefined || session.domain === '') {
      const addresses = sessionMethods.flatMap((m) => m.redirectAddresses);
      const hosts = new Set(addresses.map((address) => parseUrl(address)?.hostname ?? ''));
      const [host] = hosts;
      if (hosts.size === 1 && host !== undefined && host !== '') {
        session.domain = host;
        outcome.notes.push({
          path: domainPath,
          message: `not set; using ${quoteValue(host)}, the host of every redirect_address, as the cookie domain`,
        });
      } else {
        outcome.issues.push({
          path: domainPath,
          message: requiredMessage('authentication', 'session_domain'),
        });
      }
    }
  }

  for (const field of ['token_lifetime', 'state_lifetime'] as const) {
    const value = session[field];
    if (typeof value === 'number' && value <= 0) {
      outcome.issues.push({
        path: ['authentication', 'session', field],
        message: `authentication: session ${field} must be a positive duration; got ${formatGoDuration(value)}`,
      });
    }
  }

  const storage = recordOf(session.storage);
  const cleanup = recordOf(storage.cleanup);
  if (typeof cleanup.grace_period === 'number' && cleanup.grace_period < 0) {
    outcome.issues.push({
      path: ['authentication', 'session', 'storage', 'cleanup', 'grace_period'],
      message: `authentication: session_storage cleanup_grace_period must be a positive duration; got ${formatGoDuration(cleanup.grace_period)}`,
    });
  }
  if (typeof cleanup.interval === 'number' && cleanup.interval <= 0) {
    outcome.issues.push({
      path: ['authentication', 'session', 'storage', 'cleanup', 'interval'],
      message: `authentication: session_storage cleanup_interval must be a positive duration; got ${formatGoDuration(cleanup.interval)}`,
    });
  }
  const redis = recordOf(storage.redis);
  if (!isBlank(redis.ca_cert_bytes) && !isBlank(redis.ca_cert_path)) {
    outcome.issues.push({
      path: ['authentication', 'session', 'storage', 'redis', 'ca_cert_bytes'],
      message:
        'authentication: session_storage please provide exclusively one of ca_cert_bytes or ca_cert_path',
    });
  }
  for (const field of ['net_timeout', 'conn_max_idle_time'] as const) {
    const value = redis[field];
    if (typeof value === 'number' && value < 0) {
      outcome.issues.push({
        path: ['authentication', 'session', 'storage', 'redis', field],
        message: `authentication: session_storage redis ${field} must not be negative; got ${formatGoDuration(value)}`,
      });
    }
  }
}

/** Below this a refresh would hammer the stores: 10 fetches a second of every reference. */
const MIN_REFRESH_INTERVAL_MS = 100;

/** The longest of the secrets durations: Node's timers hold at most about 24.8 days, and a day is plenty. */
const MAX_SECRETS_DURATION_MS = 24 * 60 * 60 * 1000;

function secretsRules(config: RootConfig, outcome: RuleOutcome): void {
  const secrets = recordOf(config.secrets);
  const at = (field: string) => ['secrets', field];
  for (const field of ['refresh_interval', 'startup_timeout', 'fetch_timeout'] as const) {
    const value = secrets[field];
    if (typeof value === 'number' && value > MAX_SECRETS_DURATION_MS) {
      outcome.issues.push({
        path: at(field),
        message: `secrets: ${field} must be at most 24h; got ${formatGoDuration(value)}`,
      });
    }
  }
  const refresh = secrets.refresh_interval;
  if (typeof refresh === 'number' && (refresh < 0 || (refresh > 0 && refresh < MIN_REFRESH_INTERVAL_MS))) {
    outcome.issues.push({
      path: at('refresh_interval'),
      message: `secrets: refresh_interval must be 0 (resolve once) or at least ${MIN_REFRESH_INTERVAL_MS}ms; got ${formatGoDuration(refresh)}`,
    });
  }
  if (typeof secrets.startup_timeout === 'number' && secrets.startup_timeout < 0) {
    outcome.issues.push({
      path: at('startup_timeout'),
      message: `secrets: startup_timeout must not be negative; got ${formatGoDuration(secrets.startup_timeout)}`,
    });
  }
  if (typeof secrets.fetch_timeout === 'number' && secrets.fetch_timeout <= 0) {
    outcome.issues.push({
      path: at('fetch_timeout'),
      message: `secrets: fetch_timeout must be a positive duration; got ${formatGoDuration(secrets.fetch_timeout)}`,
    });
  }
}

function serverRules(config: RootConfig, outcome: RuleOutcome): void {
  const server = recordOf(config.server);
  if (server.protocol !== 'https') return;
  for (const field of ['cert_file', 'cert_key'] as const) {
    const file = server[field];
    if (typeof file !== 'string' || file === '') {
      outcome.issues.push({ path: ['server', field], message: requiredMessage('server', field) });
      continue;
    }
    if (isSecretReference(file)) continue;
    try {
      statSync(file);
    } catch (error) {
      outcome.issues.push({
        path: ['server', field],
        message: fieldMessage('server', field, statFailure(file, error)),
      });
    }
  }
}

/** Headers an identity header must not be: the request's own, or the gateway's hop-by-hop and forwarding ones. */
const RESERVED_HEADERS = new Set([
  'host',
  'authorization',
  'cookie',
  'content-length',
  'content-type',
  'transfer-encoding',
  'connection',
  'upgrade',
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
]);

/** An upstream: HTTP(S), or `h2c://host:port` for a gRPC server on cleartext HTTP/2. */
function isUpstreamUrl(text: string): boolean {
  if (isHttpUrl(text)) return true;
  const url = parseUrl(text);
  return url?.protocol === 'h2c:' && url.hostname !== '' && text === text.trim();
}

/** The gateway's URLs, trusted proxies and header names must be usable: they are used on every request. */
function gatewayRules(gateway: Record<string, unknown>, outcome: RuleOutcome): void {
  const { upstream, login_url: loginUrl, trusted_proxies: proxies, identity_headers: identity } = gateway;
  const seen = new Map<string, string>();
  for (const [key, name] of Object.entries(recordOf(identity))) {
    if (typeof name !== 'string') continue;
    const canonical = name.toLowerCase().replaceAll('_', '-');
    const problem = !/^[A-Za-z0-9-]+$/.test(name)
      ? `must be a header name (letters, digits and -); got ${quoteValue(name)}`
      : RESERVED_HEADERS.has(canonical)
        ? `${quoteValue(name)} is a header the gateway sets or relies on itself`
        : seen.has(canonical)
          ? `${quoteValue(name)} is already the header of ${valueText(seen.get(canonical))}`
          : undefined;
    if (problem !== undefined)
      outcome.issues.push({ path: ['gateway', 'identity_headers', key], message: problem });
    seen.set(canonical, key);
  }
  if (typeof upstream === 'string' && !isSecretReference(upstream) && !isUpstreamUrl(upstream)) {
    outcome.issues.push({
      path: ['gateway', 'upstream'],
      message: `must be an absolute http://, https:// or h2c:// (gRPC over cleartext HTTP/2) URL; got ${quoteValue(upstream)}`,
    });
  }
  if (typeof loginUrl === 'string' && !isHttpUrl(loginUrl) && !/^\/(?![/\\])/.test(loginUrl)) {
    outcome.issues.push({
      path: ['gateway', 'login_url'],
      message: `must be an absolute http:// or https:// URL, or a path on this server starting with /; got ${quoteValue(loginUrl)}`,
    });
  }
  if (Array.isArray(proxies)) {
    proxies.forEach((entry, index) => {
      if (typeof entry === 'string' && parseAddressRange(entry) === undefined) {
        outcome.issues.push({
          path: ['gateway', 'trusted_proxies', index],
          message: `must be an IP address or CIDR range (such as 10.0.0.0/8 or ::1); got ${quoteValue(entry)}`,
        });
      }
    });
  }
}

/** Flipt's audit buffer bounds (`internal/config/audit.go`). */
const AUDIT_CAPACITY = { min: 2, max: 10 };
const AUDIT_FLUSH_PERIOD_MS = { min: 2 * 60_000, max: 5 * 60_000 };

/**
 * `audit`: Flipt's rules in Flipt's words (the buffer always; the webhook when enabled; the event filters when a
 * sink is), and what portcullis cannot do (Kafka, webhook templates) refused where Flipt would act on it.
 */
function auditRules(config: RootConfig, outcome: RuleOutcome): void {
  const audit = recordOf(config.audit);
  const sinks = recordOf(audit.sinks);
  const [log, webhook, kafka] = [recordOf(sinks.log), recordOf(sinks.webhook), recordOf(sinks.kafka)];
  const buffer = recordOf(audit.buffer);
  const at = (...path: Array<string | number>) => ['audit', ...path];
  const { capacity, flush_period: flushPeriod, max_pending: maxPending } = buffer;
  if (typeof capacity === 'number' && (capacity < AUDIT_CAPACITY.min || capacity > AUDIT_CAPACITY.max)) {
    outcome.issues.push({
      path: at('buffer', 'capacity'),
      message: `buffer capacity below ${AUDIT_CAPACITY.min} or above ${AUDIT_CAPACITY.max}; got ${capacity}`,
    });
  }
  if (
    typeof flushPeriod === 'number' &&
    (flushPeriod < AUDIT_FLUSH_PERIOD_MS.min || flushPeriod > AUDIT_FLUSH_PERIOD_MS.max)
  ) {
    outcome.issues.push({
      path: at('buffer', 'flush_period'),
      message: `flush period below 2 minutes or greater than 5 minutes; got ${formatGoDuration(flushPeriod)}`,
    });
  }
  if (typeof maxPending === 'number' && typeof capacity === 'number' && maxPending < capacity) {
    outcome.issues.push({
      path: at('buffer', 'max_pending'),
      message: `buffer max_pending must be at least the buffer capacity (${capacity}); got ${maxPending}`,
    });
  }

  const templates = Array.isArray(webhook.templates) ? webhook.templates : [];
  if (webhook.enabled === true) {
    if (templates.length > 0) {
      outcome.issues.push({
        path: at('sinks', 'webhook', 'templates'),
        message:
          "webhook templates (Go templates) are not supported by portcullis; set url instead: the receiver gets each event as Flipt's JSON",
      });
    } else if (isBlank(webhook.url)) {
      outcome.issues.push({
        path: at('sinks', 'webhook', 'url'),
        message: 'url or template(s) not provided',
      });
    } else if (
      typeof webhook.url === 'string' &&
      !isSecretReference(webhook.url) &&
      !isHttpUrl(webhook.url)
    ) {
      outcome.issues.push({
        path: at('sinks', 'webhook', 'url'),
        message: `must be an absolute http:// or https:// URL; got ${quoteValue(webhook.url)}`,
      });
    }
  } else if (templates.length > 0) {
    outcome.notes.push({
      path: at('sinks', 'webhook', 'templates'),
      message:
        'webhook templates are not supported by portcullis; accepted and ignored while the sink is disabled',
    });
  }
  if (kafka.enabled === true) {
    outcome.issues.push({
      path: at('sinks', 'kafka', 'enabled'),
      message: 'the Kafka sink is not supported by portcullis; use audit.sinks.log or audit.sinks.webhook',
    });
  }

  const enabled = log.enabled === true || webhook.enabled === true || kafka.enabled === true;
  if (enabled && Array.isArray(audit.events)) {
    for (const issue of parseEventFilters(audit.events, (text) => valueText(text)).issues) {
      outcome.issues.push({
        path: issue.index === undefined ? at('events') : at('events', issue.index),
        message: issue.message,
      });
    }
  }
}

/**
 * The cross-field rules of the core sections, in Flipt's words where Flipt has the rule. Written defensively:
 * they also run on a configuration with schema errors elsewhere, so that every problem is reported at once.
 * Normalises `authentication.session.domain` in place.
 */
export function coreRules(config: RootConfig, sessionMethods: readonly SessionMethod[]): RuleOutcome {
  const outcome: RuleOutcome = { issues: [], notes: [] };
  sessionRules(config, sessionMethods, outcome);
  serverRules(config, outcome);
  secretsRules(config, outcome);

  if (recordOf(config.authorization).required === true && recordOf(config.authentication).required !== true) {
    outcome.issues.push({
      path: ['authorization', 'required'],
      message: 'authorization: requires authentication to also be required',
    });
  }

  gatewayRules(recordOf(config.gateway), outcome);
  auditRules(config, outcome);
  return outcome;
}

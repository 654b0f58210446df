import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CredentialMap } from '../../config/credentials.ts';
import { loadConfig } from '../../config/load.ts';
import { ConfigError, formatIssue } from '../../errors.ts';
import { tempFiles } from '../../test-support/tmp.ts';

/** The problems of a configuration file holding `yaml`, as `serve` prints them. */
async function problems(yaml: string): Promise<string[]> {
  const dir = tempFiles({ 'config.yaml': yaml });
  const error = await loadConfig({ file: join(dir, 'config.yaml'), env: {} }).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof ConfigError)) throw new Error(`expected a ConfigError, got ${String(error)}`);
  return error.issues.map(formatIssue);
}

describe('audit configuration', () => {
  it('has Flipt’s keys and defaults, durations in milliseconds, and portcullis’s max_pending', async () => {
    const { config, warnings } = await loadConfig({ object: {}, env: {} });
    expect(config.audit).toEqual({
      sinks: {
        log: { enabled: false, file: '', encoding: '' },
        webhook: { enabled: false, url: '', max_backoff_duration: 15_000, signing_secret: '', templates: [] },
        kafka: { enabled: false, encoding: 'protobuf', require_tls: false, insecure_skip_tls: false },
      },
      buffer: { capacity: 2, flush_period: 120_000, max_pending: 10_000 },
      events: ['*:*'],
    });
    expect(warnings.map(formatIssue)).toEqual([]);
  });

  it('loads a Flipt v1 audit section unchanged, a disabled Kafka block noted as ignored', async () => {
    const dir = tempFiles({
      'config.yaml': [
        'audit:',
        '  sinks:',
        '    log:',
        '      enabled: true',
        '      file: /var/log/flipt/audit.log',
        '      encoding: json',
        '    webhook:',
        '      enabled: true',
        '      url: https://audit.example.com/flipt',
        '      max_backoff_duration: 1m',
        '      signing_secret: s3cr3t-signing',
        '    kafka:',
        '      enabled: false',
        '      topic: audit',
        '      bootstrap_servers: [kafka:9092]',
        '  buffer:',
        '    capacity: 10',
        '    flush_period: 5m',
        '  events: ["flag:*", "token:created", "login:refused"]',
        '',
      ].join('\n'),
    });
    const { config, warnings } = await loadConfig({ file: join(dir, 'config.yaml'), env: {} });
    expect(config.audit.sinks.webhook).toMatchObject({
      max_backoff_duration: 60_000,
      signing_secret: 's3cr3t-signing',
    });
    expect(config.audit.buffer).toEqual({ capacity: 10, flush_period: 300_000, max_pending: 10_000 });
    expect(warnings.map(formatIssue)).toEqual([
      'audit.sinks.kafka.topic (14:7): accepted for Flipt compatibility and ignored',
      'audit.sinks.kafka.bootstrap_servers (15:7): accepted for Flipt compatibility and ignored',
    ]);
  });

  it('reports Flipt’s rules in Flipt’s words, each at its place, all at once', async () => {
    expect(
      await problems(
        [
          'audit:',
          '  sinks:',
          '    webhook:',
          '      enabled: true',
          '  buffer:',
          '    capacity: 11',
          '    flush_period: 90s',
          '  events:',
          '    - "token:created"',
          '    - "flag"',
          '    - "user:created"',
          '    - "login:created"',
          '    - "token:*"',
          '',
        ].join('\n'),
      ),
    ).toEqual([
      'audit.sinks.webhook.url (3:5): url or template(s) not provided',
      'audit.buffer.capacity (6:5): buffer capacity below 2 or above 10; got 11',
      'audit.buffer.flush_period (7:5): flush period below 2 minutes or greater than 5 minutes; got 1m30s',
      'audit.events[1] (10:7): invalid event pair: flag',
      'audit.events[2] (11:7): invalid noun: user',
      'audit.events[3] (12:7): invalid verb: created',
      'audit.events[4] (13:7): repeated event pair: token:created',
    ]);
  });

  it('refuses what portcullis cannot do: an enabled Kafka sink, webhook templates; and max_pending below capacity', async () => {
    expect(
      await problems(
        [
          'audit:',
          '  sinks:',
          '    kafka: {enabled: true, topic: audit, bootstrap_servers: [kafka:9092]}',
          '    webhook:',
          '      enabled: true',
          '      templates: [{url: "https://x.example", body: "{{ .Type }}"}]',
          '  buffer: {capacity: 5, max_pending: 4}',
          '  events: []',
          '',
        ].join('\n'),
      ),
    ).toEqual([
      'audit.sinks.kafka.enabled (3:13): the Kafka sink is not supported by portcullis; use audit.sinks.log or audit.sinks.webhook',
      "audit.sinks.webhook.templates (6:7): webhook templates (Go templates) are not supported by portcullis; set url instead: the receiver gets each event as Flipt's JSON",
      'audit.buffer.max_pending (7:25): buffer max_pending must be at least the buffer capacity (5); got 4',
      'audit.events (8:3): no event pairs exist',
    ]);
    expect(
      await problems('audit: {sinks: {webhook: {enabled: true, url: "ftp://example.com/x"}}}\n'),
    ).toEqual([
      'audit.sinks.webhook.url (1:42): must be an absolute http:// or https:// URL; got "ftp://example.com/x"',
    ]);
  });

  it('checks the event filters only when a sink is enabled, as Flipt does', async () => {
    const { warnings } = await loadConfig({ object: { audit: { events: ['nonsense'] } }, env: {} });
    expect(warnings).toEqual([]);
    const templates = await loadConfig({
      object: { audit: { sinks: { webhook: { templates: [{ url: 'https://x.example', body: '{}' }] } } } },
      env: {},
    });
    expect(templates.warnings.map(formatIssue)).toEqual([
      'audit.sinks.webhook.templates: webhook templates are not supported by portcullis; accepted and ignored while the sink is disabled',
    ]);
  });

  it('takes the signing secret as a secret reference or from FLIPT_AUDIT_* variables, and marks it a credential', async () => {
    const dir = tempFiles({ signing: 'from-a-file\n' });
    const loaded = await loadConfig({
      object: {
        secrets: { providers: { file: { enabled: true, base_path: dir } } },
        audit: {
          sinks: {
            webhook: {
              enabled: true,
              url: 'https://audit.example.com',
              signing_secret: '${secret:file:signing}',
            },
          },
        },
      },
      env: {},
    });
    expect(loaded.references.map((site) => site.path.join('.'))).toEqual([
      'audit.sinks.webhook.signing_secret',
    ]);

    const env = {
      FLIPT_AUDIT_SINKS_LOG_ENABLED: 'true',
      FLIPT_AUDIT_BUFFER_CAPACITY: '4',
      FLIPT_AUDIT_EVENTS: 'login:* logout:*',
    };
    const fromEnv = await loadConfig({ object: {}, env });
    expect(fromEnv.config.audit.sinks.log.enabled).toBe(true);
    expect(fromEnv.config.audit.buffer.capacity).toBe(4);
    expect(fromEnv.config.audit.events).toEqual(['login:*', 'logout:*']);

    // Marked as a credential: the logger scrubs a signing secret written in the file, as it does a static token.
    const written = await loadConfig({
      object: {
        audit: {
          sinks: { webhook: { enabled: true, url: 'https://a.example', signing_secret: 'plain-signing' } },
        },
      },
      env: {},
    });
    expect(new CredentialMap(written.schema).values(written.config)).toContainEqual({
      path: ['audit', 'sinks', 'webhook', 'signing_secret'],
      value: 'plain-signing',
    });
  });
});

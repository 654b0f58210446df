import { eventually } from '../../../core/test-support/load.ts';
import { httpReady, image, type Started, type SuiteNetwork, start } from './containers.ts';

/** A portcullis container: its configuration is mounted at /etc/portcullis/config.yaml, HTTP on 8080. */
export interface Portcullis extends Started {
  /** The address other containers use: `http://<alias>:8080`. */
  readonly internalUrl: string;
  /** The structured log lines written so far (pino's JSON), parsed; other lines are skipped. */
  logLines(): Array<Record<string, unknown>>;
  /** The generated bootstrap token, from the log line "access token created" (waits for it up to 10 s). */
  bootstrapToken(): Promise<string>;
}

/**
 * Starts portcullis's own image (docker/Dockerfile) with `config` (YAML text; it must listen on 0.0.0.0:8080) and
 * `files` (more files, by absolute path), and waits for `GET /health` to answer 200.
 */
export async function startPortcullis(
  network: SuiteNetwork,
  config: string,
  options: { alias?: string; files?: Record<string, string>; env?: Record<string, string> } = {},
): Promise<Portcullis> {
  const alias = options.alias ?? 'portcullis';
  const started = await start(image('portcullis'), {
    network,
    alias,
    ports: [8080],
    files: { '/etc/portcullis/config.yaml': config, ...options.files },
    env: options.env ?? {},
    wait: httpReady('/health', 8080),
  });
  const logLines = () =>
    started
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .flatMap((line) => {
        try {
          return [JSON.parse(line) as Record<string, unknown>];
        } catch {
          return [];
        }
      });
  return {
    ...started,
    internalUrl: `http://${alias}:8080`,
    logLines,
    async bootstrapToken() {
      const token = () => logLines().find((entry) => entry.msg === 'access token created')?.client_token;
      await eventually(
        () => typeof token() === 'string',
        10_000,
        `an "access token created" line in ${alias}'s log`,
      ).catch((error: Error) => {
        throw new Error(`${error.message}:\n${started.output().slice(-2000)}`);
      });
      return token() as string;
    },
  };
}

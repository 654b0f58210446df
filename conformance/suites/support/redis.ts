import { Wait } from 'testcontainers';
import { sleep } from '../../../core/test-support/load.ts';
import { dockerode, image, type Started, type SuiteNetwork, start } from './containers.ts';

/** A Redis container of the suite's image (conformance/images/redis: append-only file on, in /data). */
export interface RedisNode extends Started {
  readonly alias: string;
  /** Runs `redis-cli <args>` inside the container and returns its output; throws on a non-zero exit. */
  cli(...args: string[]): Promise<string>;
  /** Stops the container without removing it (SIGTERM: Redis shuts down and syncs its append-only file). */
  halt(): Promise<void>;
  /** Starts the stopped container again and waits for `PING` to answer `PONG` (the append-only file loaded). */
  resume(): Promise<void>;
}

/** Polls `probe` every 100 ms until it answers true, for up to `ms`; the error says what was awaited and last seen. */
async function waitFor(what: string, ms: number, probe: () => Promise<{ ok: boolean; seen: string }>) {
  const deadline = Date.now() + ms;
  let seen = '';
  for (;;) {
    try {
      const answer = await probe();
      if (answer.ok) return;
      seen = answer.seen;
    } catch (error) {
      seen = (error as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms; last seen: ${seen.trim()}`);
    await sleep(100);
  }
}

/**
 * Starts Redis on the network under `alias`; `args` are appended to the image's `redis-server` entrypoint. No port
 * is published: only the containers on the network reach it, as portcullis does in production.
 */
export async function startRedis(
  network: SuiteNetwork,
  alias: string,
  args: readonly string[] = [],
): Promise<RedisNode> {
  const started = await start(image('redis'), {
    network,
    alias,
    command: args,
    wait: Wait.forLogMessage(/Ready to accept connections/),
  });
  const cli = async (...cliArgs: string[]) => {
    const result = await started.container.exec(['redis-cli', ...cliArgs]);
    if (result.exitCode !== 0) {
      throw new Error(
        `redis-cli ${cliArgs.join(' ')} on ${alias} exited ${result.exitCode}: ${result.output}`,
      );
    }
    return result.output;
  };
  // testcontainers has no stop that keeps the container: the Docker API's own stop and start.
  const handle = async () => (await dockerode()).getContainer(started.container.getId());
  return {
    ...started,
    alias,
    cli,
    async halt() {
      await (await handle()).stop({ t: 5 });
    },
    async resume() {
      await (await handle()).start();
      await waitFor(`${alias} answering PING after its start`, 15_000, async () => {
        const answer = await cli('ping');
        return { ok: answer.trim() === 'PONG', seen: answer };
      });
    },
  };
}

/**
 * Three (or more) Redis nodes in cluster mode, one master each with the slots split between them, made by
 * `redis-cli --cluster create` inside the first node with the nodes' addresses on the network, and awaited until every
 * node reports `cluster_state:ok`.
 */
export async function startRedisCluster(
  network: SuiteNetwork,
  aliases: readonly string[],
): Promise<RedisNode[]> {
  const nodes = await Promise.all(
    aliases.map((alias) =>
      startRedis(network, alias, ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf']),
    ),
  );
  // `--cluster create` wants addresses, not names (it compares them with what the nodes announce: their IPs).
  const addresses = nodes.map((node) => `${node.container.getIpAddress(network.name)}:6379`);
  const [first] = nodes;
  if (first === undefined) throw new Error('a cluster needs nodes');
  await first.cli('--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes');
  await Promise.all(
    nodes.map((node) =>
      waitFor(`${node.alias} reporting cluster_state:ok`, 20_000, async () => {
        const info = await node.cli('cluster', 'info');
        return { ok: info.includes('cluster_state:ok'), seen: info.split('\n')[0] ?? info };
      }),
    ),
  );
  return nodes;
}

import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import type Docker from 'dockerode';
import {
  GenericContainer,
  getContainerRuntimeClient,
  type StartedTestContainer,
  Wait,
  type WaitStrategy,
} from 'testcontainers';
import { runLabels } from '../../engine/labels.ts';
import { IMAGE_REPOSITORY, imageId } from '../../images/build.ts';

/** The tag of one of the suite's images (`portcullis`, `redis`, …), as conformance/run.ts built it. */
export function image(name: string): string {
  const tags = JSON.parse(process.env.PORTCULLIS_CONFORMANCE_IMAGES ?? '{}') as Record<string, string>;
  const tag = tags[name];
  if (tag === undefined) throw new Error(`no image "${name}": run the suites with npm run conformance`);
  return tag;
}

/** The Docker API client testcontainers uses (for what it does not wrap: stop without removing, networks). */
export async function dockerode(): Promise<Docker> {
  return (await getContainerRuntimeClient()).container.dockerode;
}

/** A user-defined network of one suite file, labelled for the sweep; containers on it reach each other by alias. */
export interface SuiteNetwork {
  readonly name: string;
  remove(): Promise<void>;
}

/**
 * A new labelled network. Its `remove` first removes the containers still attached to it (one that failed to start
 * is left by testcontainers), then the network.
 */
export async function suiteNetwork(purpose: string): Promise<SuiteNetwork> {
  const docker = await dockerode();
  const name = `portcullis-${purpose}-${randomBytes(3).toString('hex')}`;
  const network = await docker.createNetwork({
    Name: name,
    Driver: 'bridge',
    CheckDuplicate: true,
    Labels: runLabels(),
  });
  const ignoreGone = (error: { statusCode?: number }) => {
    if (error.statusCode !== 404) throw error;
  };
  return {
    name,
    async remove() {
      const attached = (await network.inspect().catch(ignoreGone)) as
        | { Containers?: Record<string, unknown> }
        | undefined;
      await Promise.all(
        Object.keys(attached?.Containers ?? {}).map((id) =>
          docker.getContainer(id).remove({ force: true, v: true }).catch(ignoreGone),
        ),
      );
      await network.remove().catch(ignoreGone);
    },
  };
}

/**
 * testcontainers, given network aliases, creates a container on the default bridge and connects it to the network
 * after; the private engine has no default bridge (`--bridge=none`), so its ports would not be published. This one
 * creates the container on the network itself, with its aliases, as compose does.
 */
class NetworkedContainer extends GenericContainer {
  onNetwork(network: string, aliases: readonly string[]): this {
    this.withNetworkMode(network);
    this.createOpts.NetworkingConfig = { EndpointsConfig: { [network]: { Aliases: [...aliases] } } };
    return this;
  }
}

/** A container started by {@link start}: testcontainers' handle, its output so far, and its address from the host. */
export interface Started {
  readonly container: StartedTestContainer;
  /** `http://127.0.0.1:<mapped port>` for the first exposed port. */
  readonly url: string;
  /** The first exposed port's host port. */
  readonly port: number;
  /** Everything the container wrote to stdout and stderr so far. */
  output(): string;
  stop(): Promise<void>;
}

export interface StartOptions {
  readonly network: SuiteNetwork;
  readonly alias: string;
  readonly ports?: readonly number[];
  readonly files?: Readonly<Record<string, string>>;
  readonly env?: Readonly<Record<string, string>>;
  readonly command?: readonly string[];
  readonly entrypoint?: readonly string[];
  readonly wait?: WaitStrategy;
  readonly user?: string;
}

/**
 * Starts `imageName` on the suite's network under `alias`, labelled for the sweep, with its output collected.
 * @throws Error naming the alias and image, with the container's last output lines, when it does not start.
 */
export async function start(imageName: string, options: StartOptions): Promise<Started> {
  // testcontainers would try to pull a missing image, and report the registry it cannot reach.
  if (imageName.startsWith(`${IMAGE_REPOSITORY}/`)) {
    if ((await imageId(await dockerode(), imageName)) === undefined)
      throw new Error(`${options.alias}: the image ${imageName} is not in the engine; run the suites again`);
  }
  const name = `${options.network.name}-${options.alias}`;
  let container = new NetworkedContainer(imageName)
    .onNetwork(options.network.name, [options.alias])
    .withName(name)
    .withLabels(runLabels())
    .withExposedPorts(...(options.ports ?? []))
    .withEnvironment({ ...options.env })
    .withStartupTimeout(60_000);
  if (options.command !== undefined) container = container.withCommand([...options.command]);
  if (options.entrypoint !== undefined) container = container.withEntrypoint([...options.entrypoint]);
  if (options.user !== undefined) container = container.withUser(options.user);
  if (options.wait !== undefined) container = container.withWaitStrategy(options.wait);
  const files = Object.entries(options.files ?? {});
  if (files.length > 0) {
    container = container.withCopyContentToContainer(
      files.map(([target, content]) => ({ target, content, mode: 0o644 })),
    );
  }
  let output = '';
  container = container.withLogConsumer((stream: Readable) => {
    stream.on('data', (chunk: Buffer | string) => {
      output += chunk.toString();
    });
  });
  const exited = exitWatch(name);
  let started: StartedTestContainer;
  try {
    started = await Promise.race([container.start(), exited.promise]);
  } catch (error) {
    const message = (error as Error).message;
    const tail = output.trim().split('\n').slice(-12);
    // The exit watch already quotes the container's last lines.
    const detail = tail[0] === undefined || message.includes(tail[0]) ? '' : `\n  ${tail.join('\n  ')}`;
    throw new Error(`${options.alias} (${imageName}) did not start: ${message}${detail}`);
  } finally {
    exited.stop();
  }
  const port = options.ports?.[0] === undefined ? 0 : started.getMappedPort(options.ports[0]);
  return {
    container: started,
    url: `http://${started.getHost()}:${port}`,
    port,
    output: () => output,
    stop: async () => {
      await started.stop({ remove: true, removeVolumes: true, timeout: 2_000 });
    },
  };
}

/** The text of a container's log as the API sends it without a TTY: frames of an 8-byte header and a payload. */
function demux(raw: Buffer): string {
  let text = '';
  for (let at = 0; at + 8 <= raw.length; ) {
    const size = raw.readUInt32BE(at + 4);
    text += raw.subarray(at + 8, at + 8 + size).toString();
    at += 8 + size;
  }
  return text;
}

/**
 * Rejects as soon as the container `name` has exited: testcontainers would otherwise wait out the whole start-up
 * timeout for a port or an answer that a container that stopped (a portcullis refusing its config) never gives.
 */
function exitWatch(name: string): { promise: Promise<never>; stop(): void } {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const promise = new Promise<never>((_, reject) => {
    const poll = async () => {
      if (stopped) return;
      const docker = await dockerode();
      const [gone] = await docker
        .listContainers({ all: true, filters: { name: [`^/${name}$`], status: ['exited', 'dead'] } })
        .catch(() => []);
      if (gone !== undefined) {
        const logs = await docker
          .getContainer(gone.Id)
          .logs({ stdout: true, stderr: true, tail: 12 })
          .catch(() => Buffer.alloc(0));
        reject(
          new Error(
            `the container exited (${gone.Status}):\n  ${demux(logs).trim().split('\n').join('\n  ')}`,
          ),
        );
      } else if (!stopped) timer = setTimeout(() => void poll(), 250);
    };
    timer = setTimeout(() => void poll(), 250);
  });
  promise.catch(() => {});
  return {
    promise,
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

/** Waits for an HTTP 200 from `path` on `port`. */
export const httpReady = (path: string, port: number) => Wait.forHttp(path, port).forStatusCode(200);

import { hostname } from 'node:os';
import type Docker from 'dockerode';
import { isAlive } from './process.ts';

/** Every container and network the suite creates carries this label (Ryuk cannot be pulled here to reap them). */
export const SUITE_LABEL = 'org.portcullis.conformance';
/** Which run made it: `<pid>@<hostname>`, so that a sweep spares the resources of a run still going. */
export const RUN_LABEL = 'org.portcullis.conformance.run';
/** The images the suite builds carry this label, set to the image's name (its tag is the hash of its inputs). */
export const IMAGE_LABEL = 'org.portcullis.conformance.image';

/** This process's run id. */
export const runId = (pid = process.pid) => `${pid}@${hostname()}`;

/** The labels for a container or network this run creates. */
export function runLabels(run = process.env.PORTCULLIS_CONFORMANCE_RUN ?? runId()): Record<string, string> {
  return { [SUITE_LABEL]: 'true', [RUN_LABEL]: run };
}

const alive = (run: string) => {
  const [pid, host] = run.split('@');
  if (host !== hostname()) return true; // another machine's run: never ours to judge
  return isAlive(Number(pid));
};

/** What a sweep removed. */
export interface Swept {
  readonly containers: string[];
  readonly networks: string[];
}

/**
 * Removes (forcefully, volumes included) every container, then every network, labelled {@link SUITE_LABEL} whose run
 * is `run`, or, without `run`, whose run's process is gone (a run killed half-way). Compose projects the suite starts
 * carry the label too. Never throws for a resource that vanished meanwhile.
 */
export async function sweep(docker: Docker, run?: string): Promise<Swept> {
  const mine = (labels: Record<string, string> | undefined) => {
    const owner = labels?.[RUN_LABEL];
    if (labels?.[SUITE_LABEL] !== 'true' || owner === undefined) return false;
    return run === undefined ? !alive(owner) : owner === run;
  };
  const swept: Swept = { containers: [], networks: [] };
  const containers = await docker.listContainers({ all: true, filters: { label: [SUITE_LABEL] } });
  await Promise.all(
    containers
      .filter((container) => mine(container.Labels))
      .map(async (container) => {
        await docker
          .getContainer(container.Id)
          .remove({ force: true, v: true })
          .catch((error: { statusCode?: number }) => {
            if (error.statusCode !== 404 && error.statusCode !== 409) throw error;
          });
        swept.containers.push(container.Names[0]?.replace(/^\//, '') ?? container.Id.slice(0, 12));
      }),
  );
  const networks = await docker.listNetworks({ filters: { label: [SUITE_LABEL] } });
  for (const network of networks.filter((candidate) => mine(candidate.Labels))) {
    await docker
      .getNetwork(network.Id)
      .remove()
      .catch((error: { statusCode?: number }) => {
        if (error.statusCode !== 404) throw error;
      });
    swept.networks.push(network.Name);
  }
  return swept;
}

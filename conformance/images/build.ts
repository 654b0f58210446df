import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { IMAGE_LABEL } from '../engine/labels.ts';
import { type BuildContext, contextDigest, contextTar, repoRoot } from './context.ts';

/** Every image the suite builds is tagged `portcullis-conformance/<name>:<digest of its inputs>`. */
export const IMAGE_REPOSITORY = 'portcullis-conformance';

/** How to build one image. */
export interface ImageSpec {
  readonly name: string;
  /** The Dockerfile, relative to the repository root. */
  readonly dockerfile: string;
  readonly target?: string;
  /** Build arguments naming other images of the suite: `{ NODE_IMAGE: 'node' }`. */
  readonly parents?: Readonly<Record<string, string>>;
  /** What the build sees, assembled only when the image must be built or its digest taken. */
  readonly context: () => BuildContext;
}

/** One image after {@link buildImage}: its tag, and whether this run built it (and how long that took, in ms). */
export interface Built {
  readonly name: string;
  readonly tag: string;
  /** The image's ID: what images built on it are keyed by (a base given by name may change under its name). */
  readonly id: string;
  readonly built: boolean;
  readonly ms: number;
}

/**
 * Waits for a build, pull or import stream to end; its progress messages (the last 200 lines) are the detail of a
 * failed build, which does not fail the stream.
 */
export async function follow(docker: Docker, stream: NodeJS.ReadableStream): Promise<string[]> {
  const lines: string[] = [];
  await new Promise<void>((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (error: Error | null) => (error === null ? resolve() : reject(error)),
      (event: { stream?: string; status?: string; error?: string }) => {
        const text = event.error ?? event.stream ?? event.status;
        if (text !== undefined) lines.push(...text.split('\n').filter((line) => line.trim() !== ''));
        if (lines.length > 200) lines.splice(0, lines.length - 200);
      },
    );
  });
  return lines;
}

/** The image's ID, or undefined when there is no such image. */
export const imageId = (docker: Docker, tag: string): Promise<string | undefined> =>
  docker
    .getImage(tag)
    .inspect()
    .then(
      (image) => image.Id,
      () => undefined,
    );

/**
 * Builds `spec` unless an image with the digest of its inputs exists (Dockerfile, target, parents' image IDs,
 * context contents), on the host's network (apt inside a build reaches Debian's mirror; nothing else is fetched).
 * Older images are left for {@link removeImagesExcept}.
 *
 * @param parents the images built before, by name.
 * @throws Error naming the image, with the build's last lines, when the build fails.
 */
export async function buildImage(
  docker: Docker,
  spec: ImageSpec,
  parents: ReadonlyMap<string, Built>,
): Promise<Built> {
  const started = performance.now();
  const buildargs: Record<string, string> = {};
  const parentIds: string[] = [];
  for (const [argument, name] of Object.entries(spec.parents ?? {})) {
    const parent = parents.get(name);
    if (parent === undefined) throw new Error(`image ${spec.name} needs ${name}, which is not built yet`);
    buildargs[argument] = parent.tag;
    parentIds.push(parent.id);
  }
  const dockerfile = readFileSync(join(repoRoot, spec.dockerfile), 'utf8');
  const given = spec.context();
  const context: BuildContext = {
    entries: given.entries,
    // The Dockerfile travels in the context (the API wants it there); the ignore file keeps it out of COPY.
    generated: {
      ...given.generated,
      Dockerfile: dockerfile,
      '.dockerignore': 'Dockerfile\n.dockerignore\n',
    },
  };
  const digest = createHash('sha256')
    .update(JSON.stringify({ dockerfile, target: spec.target ?? null, parentIds }))
    .update(contextDigest(context))
    .digest('hex')
    .slice(0, 16);
  const tag = `${IMAGE_REPOSITORY}/${spec.name}:${digest}`;
  const present = await imageId(docker, tag);
  if (present !== undefined)
    return { name: spec.name, tag, id: present, built: false, ms: performance.now() - started };

  const stream = await docker.buildImage(contextTar(context), {
    t: tag,
    dockerfile: 'Dockerfile',
    ...(spec.target === undefined ? {} : { target: spec.target }),
    buildargs,
    networkmode: 'host',
    labels: { [IMAGE_LABEL]: spec.name },
    rm: true,
    forcerm: true,
  });
  let lines: string[];
  try {
    lines = await follow(docker, stream);
  } catch (error) {
    throw new Error(`building image ${spec.name} failed: ${(error as Error).message}`);
  }
  const id = await imageId(docker, tag);
  if (id === undefined) {
    throw new Error(
      `building image ${spec.name} (${spec.dockerfile}) failed:\n  ${lines.slice(-15).join('\n  ')}`,
    );
  }
  return { name: spec.name, tag, id, built: true, ms: performance.now() - started };
}

/**
 * Removes the suite's images (labelled {@link IMAGE_LABEL}) other than `keep` (tags), then the untagged ones left
 * behind, so that the engine's disk holds one version of each. Only for an engine no other run is using: another
 * run's images may differ from this one's (another checkout, or a parent built twice at once). An image still used
 * by a container stays.
 */
export async function removeImagesExcept(docker: Docker, keep: ReadonlySet<string>): Promise<void> {
  const images = await docker.listImages({ filters: { label: [IMAGE_LABEL] } });
  const older = images
    .flatMap((image) => image.RepoTags ?? [])
    .filter((tag) => tag.startsWith(`${IMAGE_REPOSITORY}/`) && !keep.has(tag));
  for (const tag of older) {
    await docker
      .getImage(tag)
      .remove({ force: false })
      .catch(() => {});
  }
  await docker
    .pruneImages({ filters: { dangling: { true: true }, label: { [IMAGE_LABEL]: true } } })
    .catch(() => {});
}

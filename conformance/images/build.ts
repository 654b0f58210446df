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
  /** Paths whose contents are summed by `inputs` instead of read (installed packages, pinned by the lockfile). */
  readonly skip?: (to: string) => boolean;
  /** More inputs for the digest (the lockfile's pins of the packages the context holds). */
  readonly inputs?: () => string;
}

/** One image after {@link buildImage}: its tag, and whether this run built it (and how long that took, in ms). */
export interface Built {
  readonly name: string;
  readonly tag: string;
  readonly built: boolean;
  readonly ms: number;
}

/** The progress messages of a build; the last ones are the error's detail when it fails. */
async function follow(docker: Docker, stream: NodeJS.ReadableStream): Promise<string[]> {
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

const exists = async (docker: Docker, tag: string) => {
  try {
    await docker.getImage(tag).inspect();
    return true;
  } catch {
    return false;
  }
};

/**
 * Builds `spec` unless an image with the digest of its inputs exists (Dockerfile, target, parents' tags, context
 * contents), on the host's network (apt inside a build reaches Debian's mirror; nothing else is fetched). Older
 * images of the same name are removed after a build, so the engine's disk holds one of each.
 *
 * @param parents the tags of images built before, by name.
 * @throws Error naming the image, with the build's last lines, when the build fails.
 */
export async function buildImage(
  docker: Docker,
  spec: ImageSpec,
  parents: ReadonlyMap<string, string>,
): Promise<Built> {
  const started = performance.now();
  const buildargs: Record<string, string> = {};
  for (const [argument, name] of Object.entries(spec.parents ?? {})) {
    const tag = parents.get(name);
    if (tag === undefined) throw new Error(`image ${spec.name} needs ${name}, which is not built yet`);
    buildargs[argument] = tag;
  }
  const dockerfile = readFileSync(join(repoRoot, spec.dockerfile), 'utf8');
  const context: BuildContext = {
    entries: spec.context().entries,
    // The Dockerfile travels in the context (the API wants it there); the ignore file keeps it out of COPY.
    generated: {
      ...spec.context().generated,
      Dockerfile: dockerfile,
      '.dockerignore': 'Dockerfile\n.dockerignore\n',
    },
  };
  const digest = createHash('sha256')
    .update(
      JSON.stringify({ dockerfile, target: spec.target ?? null, buildargs, inputs: spec.inputs?.() ?? null }),
    )
    .update(contextDigest(context, spec.skip))
    .digest('hex')
    .slice(0, 16);
  const tag = `${IMAGE_REPOSITORY}/${spec.name}:${digest}`;
  if (await exists(docker, tag))
    return { name: spec.name, tag, built: false, ms: performance.now() - started };

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
  if (!(await exists(docker, tag))) {
    throw new Error(
      `building image ${spec.name} (${spec.dockerfile}) failed:\n  ${lines.slice(-15).join('\n  ')}`,
    );
  }
  await removeOlder(docker, spec.name, tag);
  return { name: spec.name, tag, built: true, ms: performance.now() - started };
}

/** Removes the images of `name` other than `keep`; one still used by a container stays (removal refused). */
export async function removeOlder(docker: Docker, name: string, keep: string): Promise<void> {
  const images = await docker.listImages({ filters: { label: [`${IMAGE_LABEL}=${name}`] } });
  for (const image of images) {
    if (image.RepoTags?.includes(keep) === true) continue;
    await docker
      .getImage(image.Id)
      .remove({ force: false })
      .catch(() => {});
  }
}

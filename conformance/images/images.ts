import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { ensureBase } from './base.ts';
import { type Built, buildImage, type ImageSpec } from './build.ts';
import { dependencyClosure, packageEntries, productionPackages, repoEntry, repoRoot } from './context.ts';

const tsFiles = (dir: string) =>
  readdirSync(join(repoRoot, dir))
    .filter((name) => name.endsWith('.ts') && !name.endsWith('.test.ts'))
    .map((name) => repoEntry(`${dir}/${name}`));

/**
 * The images of the suite, in build order. `node` carries the Node binary running this process (the one the project
 * installed); `portcullis` is docker/Dockerfile's `prebuilt` stage from a context the host built (`dist/` from
 * `npm run build`, the production packages the lockfile names); the others are small and built from the repository.
 */
export function imageSpecs(): ImageSpec[] {
  return [
    {
      name: 'node',
      dockerfile: 'conformance/images/node/Dockerfile',
      parents: { BASE_IMAGE: 'base' },
      context: () => ({ entries: [{ from: process.execPath, to: 'node' }] }),
    },
    {
      name: 'redis',
      dockerfile: 'conformance/images/redis/Dockerfile',
      parents: { BASE_IMAGE: 'base' },
      context: () => ({ entries: [] }),
    },
    {
      name: 'nginx',
      dockerfile: 'conformance/images/nginx/Dockerfile',
      parents: { BASE_IMAGE: 'base' },
      context: () => ({ entries: [] }),
    },
    {
      name: 'portcullis',
      dockerfile: 'docker/Dockerfile',
      target: 'prebuilt',
      parents: { NODE_IMAGE: 'node' },
      context: () => ({
        entries: [
          repoEntry('package.json'),
          repoEntry('dist'),
          ...readdirSync(join(repoRoot, 'schema'))
            .filter((name) => name.endsWith('.json'))
            .map((name) => repoEntry(`schema/${name}`)),
          ...packageEntries(productionPackages()),
        ],
      }),
    },
    {
      name: 'fake-github',
      dockerfile: 'conformance/images/fake-github/Dockerfile',
      parents: { NODE_IMAGE: 'node' },
      context: () => ({
        entries: [...tsFiles('conformance/fake-github'), repoEntry('conformance/fake-github/fixture.json')],
      }),
    },
    {
      name: 'upstream',
      dockerfile: 'conformance/images/upstream/Dockerfile',
      parents: { NODE_IMAGE: 'node' },
      context: () => ({ entries: [repoEntry('conformance/images/upstream/echo.ts', 'echo.ts')] }),
    },
    {
      name: 'test-idp',
      dockerfile: 'conformance/images/test-idp/Dockerfile',
      parents: { NODE_IMAGE: 'node' },
      context: () => ({
        entries: [
          ...tsFiles('conformance/images/test-idp'),
          repoEntry('conformance/fixtures/idp.json'),
          ...packageEntries(dependencyClosure(['oidc-provider'])),
        ],
      }),
    },
  ];
}

/** The suite's images by name (`base`, `node`, `portcullis`, …) → tag, and what building them took. */
export interface Images {
  readonly tags: ReadonlyMap<string, string>;
  readonly results: readonly Built[];
  /** Wall time of the whole step, in ms. */
  readonly ms: number;
}

/**
 * Builds what is missing: the base first, then the rest, those on the same parent two at a time (the machine has two
 * cores; apt in the redis and nginx builds mostly waits on the network).
 */
export async function ensureImages(
  docker: Docker,
  workDir: string,
  only?: readonly string[],
): Promise<Images> {
  const started = performance.now();
  const built = new Map<string, Built>();
  built.set('base', await ensureBase(docker, workDir));
  const specs = imageSpecs().filter((spec) => only === undefined || only.includes(spec.name));
  const pending = [...specs];
  while (pending.length > 0) {
    const ready = pending.filter((spec) =>
      Object.values(spec.parents ?? {}).every((parent) => built.has(parent)),
    );
    if (ready.length === 0)
      throw new Error(`images with missing parents: ${pending.map((spec) => spec.name)}`);
    for (let at = 0; at < ready.length; at += 2) {
      const batch = ready.slice(at, at + 2);
      for (const image of await Promise.all(batch.map((spec) => buildImage(docker, spec, built)))) {
        built.set(image.name, image);
      }
    }
    for (const spec of ready) pending.splice(pending.indexOf(spec), 1);
  }
  const results = [...built.values()];
  return {
    tags: new Map(results.map((image) => [image.name, image.tag])),
    results,
    ms: performance.now() - started,
  };
}

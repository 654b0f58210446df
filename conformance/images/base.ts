import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { IMAGE_LABEL } from '../engine/labels.ts';
import { type Built, IMAGE_REPOSITORY, removeOlder } from './build.ts';

/** The Debian release, variant and mirror of the base image (the mirror: `CONFORMANCE_DEBIAN_MIRROR`). */
const SUITE = 'bookworm';
const VARIANT = 'minbase';
const mirror = () => process.env.CONFORMANCE_DEBIAN_MIRROR ?? 'http://deb.debian.org/debian';

function run(command: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-4000);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-4000);
    });
    child.on('error', (error) =>
      reject(new Error(`${command} could not run (${error.message}); Debian: apt-get install ${command}`)),
    );
    child.on('close', (code) =>
      code === 0
        ? resolve(output)
        : reject(
            new Error(
              `${command} ${args.join(' ')} exited ${code}:\n${output.split('\n').slice(-10).join('\n')}`,
            ),
          ),
    );
  });
}

/**
 * The Debian base every other image starts from. With `CONFORMANCE_BASE_IMAGE` (a registry image, e.g.
 * `debian:bookworm-slim`) that image, pulled when absent. Otherwise `debootstrap --variant=minbase bookworm` into a
 * folder under `workDir`, imported with `docker import` and tagged with a digest of the release, variant and mirror:
 * built once per engine, about 30 s; reused after.
 *
 * @throws Error when debootstrap is missing or fails (its last lines are in the message), or the pull fails.
 */
export async function ensureBase(docker: Docker, workDir: string): Promise<Built> {
  const started = performance.now();
  const given = process.env.CONFORMANCE_BASE_IMAGE;
  if (given !== undefined && given !== '') {
    const present = await docker
      .getImage(given)
      .inspect()
      .then(() => true)
      .catch(() => false);
    if (!present) {
      const stream = await docker.pull(given);
      await new Promise<void>((resolve, reject) =>
        docker.modem.followProgress(stream, (error: Error | null) =>
          error === null ? resolve() : reject(error),
        ),
      ).catch((error: Error) => {
        throw new Error(`CONFORMANCE_BASE_IMAGE=${given} could not be pulled: ${error.message}`);
      });
    }
    return { name: 'base', tag: given, built: !present, ms: performance.now() - started };
  }
  const digest = createHash('sha256').update(`${SUITE}\0${VARIANT}\0${mirror()}`).digest('hex').slice(0, 16);
  const tag = `${IMAGE_REPOSITORY}/base:${digest}`;
  const present = await docker
    .getImage(tag)
    .inspect()
    .then(() => true)
    .catch(() => false);
  if (present) return { name: 'base', tag, built: false, ms: performance.now() - started };

  const rootfs = join(workDir, `rootfs-${digest}`);
  rmSync(rootfs, { recursive: true, force: true });
  mkdirSync(workDir, { recursive: true });
  try {
    await run('debootstrap', [`--variant=${VARIANT}`, SUITE, rootfs, mirror()]);
    // docker import reads the tar from a file or stdin; tar of the folder, streamed in.
    const tar = spawn('tar', ['-C', rootfs, '-c', '.'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const stream = await docker.importImage(tar.stdout, {
      repo: `${IMAGE_REPOSITORY}/base`,
      tag: digest,
      changes: [`LABEL ${IMAGE_LABEL}=base`, 'CMD ["/bin/bash"]'],
    } as object);
    await new Promise<void>((resolve, reject) =>
      docker.modem.followProgress(stream, (error: Error | null) =>
        error === null ? resolve() : reject(error),
      ),
    );
  } finally {
    rmSync(rootfs, { recursive: true, force: true });
  }
  await removeOlder(docker, 'base', tag);
  return { name: 'base', tag, built: true, ms: performance.now() - started };
}

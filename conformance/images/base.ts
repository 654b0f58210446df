import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import type Docker from 'dockerode';
import { IMAGE_LABEL } from '../engine/labels.ts';
import { isAlive } from '../engine/process.ts';
import { type Built, follow, IMAGE_REPOSITORY, imageId } from './build.ts';

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
      reject(
        new Error(
          `${command} could not run (${error.message}); Debian: apt-get install ${basename(command)}`,
        ),
      ),
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

/** debootstrap, from PATH or where Debian puts it (/usr/sbin, not on every user's PATH). */
const debootstrap = () => (existsSync('/usr/sbin/debootstrap') ? '/usr/sbin/debootstrap' : 'debootstrap');

/** The rootfs folders of runs that are gone (killed during debootstrap): `rootfs-<digest>-<pid>`. */
function removeAbandoned(workDir: string): void {
  if (!existsSync(workDir)) return;
  for (const name of readdirSync(workDir)) {
    const pid = Number(/^rootfs-[0-9a-f]+-(\d+)$/.exec(name)?.[1]);
    if (!Number.isNaN(pid) && !isAlive(pid)) rmSync(join(workDir, name), { recursive: true, force: true });
  }
}

/**
 * The Debian base every other image starts from. With `CONFORMANCE_BASE_IMAGE` (a registry image, e.g.
 * `debian:bookworm-slim`) that image, pulled when absent; the images built on it are keyed by its ID, so a newer
 * pull rebuilds them. Otherwise `debootstrap --variant=minbase bookworm` into a folder under `workDir`, imported
 * with `docker import` and tagged with a digest of the release, variant and mirror: built once per engine, about
 * 30 s; reused after.
 *
 * @throws Error when debootstrap is missing or fails (its last lines are in the message), or the pull fails.
 */
export async function ensureBase(docker: Docker, workDir: string): Promise<Built> {
  const started = performance.now();
  const given = process.env.CONFORMANCE_BASE_IMAGE;
  if (given !== undefined && given !== '') {
    const present = await imageId(docker, given);
    if (present !== undefined) {
      return { name: 'base', tag: given, id: present, built: false, ms: performance.now() - started };
    }
    try {
      const stream = await docker.pull(given);
      await follow(docker, stream);
    } catch (error) {
      throw new Error(`CONFORMANCE_BASE_IMAGE=${given} could not be pulled: ${(error as Error).message}`);
    }
    const id = await imageId(docker, given);
    if (id === undefined)
      throw new Error(`CONFORMANCE_BASE_IMAGE=${given}: pulled, but there is no such image`);
    return { name: 'base', tag: given, id, built: true, ms: performance.now() - started };
  }
  const digest = createHash('sha256').update(`${SUITE}\0${VARIANT}\0${mirror()}`).digest('hex').slice(0, 16);
  const tag = `${IMAGE_REPOSITORY}/base:${digest}`;
  const present = await imageId(docker, tag);
  if (present !== undefined)
    return { name: 'base', tag, id: present, built: false, ms: performance.now() - started };

  removeAbandoned(workDir);
  // A folder of this process's own: two runs on a new engine may both build the base.
  const rootfs = join(workDir, `rootfs-${digest}-${process.pid}`);
  mkdirSync(workDir, { recursive: true });
  try {
    await run(debootstrap(), [`--variant=${VARIANT}`, SUITE, rootfs, mirror()]);
    // docker import reads the tar from a file or stdin; tar of the folder, streamed in.
    const tar = spawn('tar', ['-C', rootfs, '-c', '.'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const stream = await docker.importImage(tar.stdout, {
      repo: `${IMAGE_REPOSITORY}/base`,
      tag: digest,
      changes: [`LABEL ${IMAGE_LABEL}=base`, 'CMD ["/bin/bash"]'],
    } as object);
    await follow(docker, stream);
  } finally {
    rmSync(rootfs, { recursive: true, force: true });
  }
  const id = await imageId(docker, tag);
  if (id === undefined) throw new Error(`the base image ${tag} was imported, but there is no such image`);
  return { name: 'base', tag, id, built: true, ms: performance.now() - started };
}

/**
 * vitest's global set-up for the conformance suites: conformance/run.ts gives vitest a pipe for stdin, and when the
 * runner is killed outright (SIGKILL, no cleanup of its own), the pipe closes; vitest then stops at once instead of
 * running the suites on for nobody. The next run removes what was left, by label.
 */
export default function setup(): void {
  if (process.env.PORTCULLIS_CONFORMANCE_RUN === undefined || process.stdin.isTTY) return;
  process.stdin.on('data', () => {});
  process.stdin.once('end', () => {
    console.error('conformance: the runner is gone; stopping');
    process.exit(1);
  });
  process.stdin.unref?.();
}

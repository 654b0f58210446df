/**
 * vitest's global set-up for the conformance suites. When conformance/run.ts is killed outright (SIGKILL, no
 * clean-up of its own), vitest is re-parented; it then stops at once instead of running the suites on for nobody.
 * The next run removes what was left, by label.
 */
export default function setup(): void {
  if (process.env.PORTCULLIS_CONFORMANCE_RUN === undefined) return;
  const parent = process.ppid;
  const watch = setInterval(() => {
    if (process.ppid === parent) return;
    console.error('conformance: the runner is gone; stopping');
    process.exit(1);
  }, 500);
  watch.unref();
}

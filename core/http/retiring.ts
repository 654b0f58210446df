/**
 * Apps being replaced by a newer configuration (a reload, a rotated secret) rather than shut down: closing one
 * must leave alone what outlives it on the shared server (websocket tunnels it opened, kept-alive connections).
 */
const retiring = new WeakSet<object>();

/** Marks `app` as replaced: its close is a retirement, not a shutdown. */
export function markRetiring(app: object): void {
  retiring.add(app);
}

/** Whether `app` is closing because a newer one replaced it. */
export function isRetiring(app: object): boolean {
  return retiring.has(app);
}

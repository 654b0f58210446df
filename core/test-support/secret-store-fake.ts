/**
 * What every local fake of a cloud secret store offers its tests (`secrets/<name>/fake.ts`): a real server on
 * loopback that speaks the service's protocol as its SDK uses it, holds secrets the test sets, can be taken down,
 * and records every request, so that a test can check what the real SDK sent rather than what we think it sends.
 */

/** One request a fake received. */
export interface RecordedRequest {
  /** The HTTP method, or `RPC` for a gRPC call. */
  readonly method: string;
  /** The path and query (HTTP), or the full RPC name (`/google.cloud.secretmanager.v1.SecretManagerService/...`). */
  readonly path: string;
  /** Header names in lower case (gRPC: the metadata). */
  readonly headers: Readonly<Record<string, string>>;
  /** The body as text (HTTP), or the request message as JSON (gRPC); `''` when none. */
  readonly body: string;
}

/** A running fake of one secret store. */
export interface SecretStoreFake {
  /** The store's block under `secrets.providers.<name>` (without `enabled`) that points it at this fake. */
  readonly config: Readonly<Record<string, unknown>>;
  /**
   * The environment the store needs to reach the fake (emulator switches, credentials the SDK's chain reads,
   * a CA file): what a test passes as `env` to a runtime or a child process.
   */
  readonly env: Readonly<Record<string, string>>;
  /**
   * Stores `value` as the latest version of the secret at `path`. For Vault, a JSON object is the KV v2 secret's
   * data; any other value is stored as `{ [path]: value }`, so that the two-part `${secret:vault:<path>}` reads it.
   */
  set(path: string, value: string): void;
  /** Deletes the secret at `path` (every version). */
  remove(path: string): void;
  /** While `true`, the fake answers every request as a store that is down does (and records it all the same). */
  setDown(down: boolean): void;
  /** Every request received, oldest first. */
  readonly requests: readonly RecordedRequest[];
  close(): Promise<void>;
}

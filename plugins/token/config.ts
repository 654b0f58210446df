/** `authentication.methods.token` after validation (durations in milliseconds). */
export interface TokenConfig {
  enabled: boolean;
  storage: {
    type: string;
    tokens: Record<string, { credential: string; metadata: Record<string, string> }>;
  };
  bootstrap: { token?: string; expiration?: number };
}

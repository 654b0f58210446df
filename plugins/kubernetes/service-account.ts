import type { JWTPayload } from 'jose';
import type { KubernetesConfig } from './config.ts';

/** Who a projected service account token speaks for, from its `kubernetes.io` claim. */
export interface ServiceAccount {
  readonly namespace: string;
  readonly name: string;
  readonly uid?: string;
  readonly pod?: { readonly name?: string; readonly uid?: string };
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * The service account of a token: the `kubernetes.io` claim of projected tokens, or the
 * `system:serviceaccount:<namespace>:<name>` subject of legacy ones.
 */
export function serviceAccountOf(claims: JWTPayload): ServiceAccount | undefined {
  const k8s = claims['kubernetes.io'] as Record<string, Record<string, unknown> | undefined> | undefined;
  const namespace = text(k8s?.namespace);
  const name = text(k8s?.serviceaccount?.name);
  if (namespace !== undefined && name !== undefined) {
    const podName = text(k8s?.pod?.name);
    const podUid = text(k8s?.pod?.uid);
    const uid = text(k8s?.serviceaccount?.uid);
    return {
      namespace,
      name,
      ...(uid !== undefined && { uid }),
      ...((podName !== undefined || podUid !== undefined) && {
        pod: {
          ...(podName !== undefined && { name: podName }),
          ...(podUid !== undefined && { uid: podUid }),
        },
      }),
    };
  }
  const legacy = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(claims.sub ?? '');
  return legacy === null ? undefined : { namespace: legacy[1] as string, name: legacy[2] as string };
}

/**
 * Why the allow-lists refuse a service account, or `undefined` when they let it in: with neither list set, every
 * service account of the cluster is accepted (as in Flipt); otherwise its namespace must be in
 * `allowed_namespaces` or it must be listed in `allowed_service_accounts`. The reason names the service account,
 * not the lists (it goes back to whoever sent the token).
 */
export function allowListProblem(
  config: Pick<KubernetesConfig, 'allowed_namespaces' | 'allowed_service_accounts'>,
  account: ServiceAccount | undefined,
): string | undefined {
  const { allowed_namespaces: namespaces, allowed_service_accounts: accounts } = config;
  if (namespaces.length === 0 && accounts.length === 0) return undefined;
  if (account === undefined) return 'the token names no service account';
  const qualified = `${account.namespace}/${account.name}`;
  if (namespaces.includes(account.namespace) || accounts.includes(qualified)) return undefined;
  return `service account "${qualified}" is not allowed`;
}

/** Flipt's metadata of an exchanged service account token (reference §4.9). */
export function serviceAccountMetadata(account: ServiceAccount | undefined): Record<string, string> {
  const metadata: Record<string, string> = {};
  const set = (key: string, value: string | undefined) => {
    if (value !== undefined && value !== '') metadata[key] = value;
  };
  set('io.flipt.auth.k8s.namespace', account?.namespace);
  set('io.flipt.auth.k8s.pod.name', account?.pod?.name);
  set('io.flipt.auth.k8s.pod.uid', account?.pod?.uid);
  set('io.flipt.auth.k8s.serviceaccount.name', account?.name);
  set('io.flipt.auth.k8s.serviceaccount.uid', account?.uid);
  return metadata;
}

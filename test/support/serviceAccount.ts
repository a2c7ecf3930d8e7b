// A kubeconfig that authenticates as a ServiceAccount, for tests that prove what an installed
// component may and may not do: a token from the TokenRequest API (what `kubectl create token`
// does), with the admin kubeconfig's server and CA.
import { writeFileSync } from "node:fs";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { stringify } from "yaml";

export type ServiceAccountKubeconfig = {
  /** The kubeconfig file written. */
  path: string;
  /** The bound token (expires after `expirationSeconds`). */
  token: string;
  /** system:serviceaccount:<namespace>:<name> */
  username: string;
};

/**
 * Requests a token for `namespace/serviceAccount` with the admin kubeconfig and writes a kubeconfig
 * using it next to the admin one (or at `opts.path`). The ServiceAccount must exist.
 */
export async function kubeconfigForServiceAccount(
  adminKubeconfig: string,
  namespace: string,
  serviceAccount: string,
  opts: { path?: string; expirationSeconds?: number } = {},
): Promise<ServiceAccountKubeconfig> {
  const admin = new KubeConfig();
  admin.loadFromFile(adminKubeconfig);
  const cluster = admin.getCurrentCluster();
  if (!cluster) throw new Error(`${adminKubeconfig} has no current cluster`);
  const api = admin.makeApiClient(CoreV1Api);
  const response = await api.createNamespacedServiceAccountToken({
    name: serviceAccount,
    namespace,
    body: {
      apiVersion: "authentication.k8s.io/v1",
      kind: "TokenRequest",
      spec: { audiences: [], expirationSeconds: opts.expirationSeconds ?? 3600 },
    },
  });
  const token = response.status?.token;
  if (!token) throw new Error(`TokenRequest for ${namespace}/${serviceAccount} returned no token`);
  const user = `system:serviceaccount:${namespace}:${serviceAccount}`;
  const clusterEntry: Record<string, unknown> = { server: cluster.server };
  if (cluster.caData) clusterEntry["certificate-authority-data"] = cluster.caData;
  else if (cluster.caFile) clusterEntry["certificate-authority"] = cluster.caFile;
  if (cluster.skipTLSVerify) clusterEntry["insecure-skip-tls-verify"] = true;
  const path = opts.path ?? adminKubeconfig.replace(/(\.[a-z]+)?$/, `-sa-${namespace}-${serviceAccount}.kubeconfig`);
  const kubeconfig = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: cluster.name, cluster: clusterEntry }],
    users: [{ name: user, user: { token } }],
    contexts: [{ name: user, context: { cluster: cluster.name, user, namespace } }],
    "current-context": user,
  };
  writeFileSync(path, stringify(kubeconfig), { mode: 0o600 });
  return { path, token, username: user };
}

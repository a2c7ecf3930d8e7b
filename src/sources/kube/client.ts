// Where the daemon's Kubernetes credentials come from: --kubeconfig, else $KUBECONFIG, else the
// in-cluster service account, else ~/.kube/config. One KubeConfig for every adapter.
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";

export type KubeConfigSource = "flag" | "env" | "in-cluster" | "home";

export class KubeConfigError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "KubeConfigError";
  }
}

const SERVICE_ACCOUNT_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token";

export type LoadKubeConfigOptions = {
  /** The --kubeconfig flag. */
  kubeconfig?: string | undefined;
  /** Context to use instead of the file's current-context. */
  context?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** Overridable for tests. */
  inClusterTokenPath?: string;
};

/** Loads a KubeConfig; throws KubeConfigError with what was tried when nothing works. */
export function loadKubeConfig(opts: LoadKubeConfigOptions = {}): { kubeConfig: KubeConfig; source: KubeConfigSource } {
  const env = opts.env ?? process.env;
  const kc = new KubeConfig();
  let source: KubeConfigSource;
  try {
    if (opts.kubeconfig) {
      if (!existsSync(opts.kubeconfig)) throw new KubeConfigError(`kubeconfig file ${opts.kubeconfig} does not exist`);
      kc.loadFromFile(opts.kubeconfig);
      source = "flag";
    } else if (env.KUBECONFIG) {
      const first = env.KUBECONFIG.split(":").find((p) => p.length > 0);
      if (first === undefined || !existsSync(first)) throw new KubeConfigError(`KUBECONFIG=${env.KUBECONFIG}: file does not exist`);
      kc.loadFromFile(first);
      source = "env";
    } else if (env.KUBERNETES_SERVICE_HOST && existsSync(opts.inClusterTokenPath ?? SERVICE_ACCOUNT_TOKEN)) {
      kc.loadFromCluster();
      source = "in-cluster";
    } else {
      // without any file client-node falls back to http://localhost:8080, and the user reads about
      // that address instead of the missing kubeconfig
      const home = join(env.HOME || homedir(), ".kube", "config");
      if (!existsSync(home)) {
        throw new KubeConfigError(
          `no kubeconfig found (looked in $KUBECONFIG, the in-cluster service account, ${home}); pass --kubeconfig or set KUBECONFIG`,
        );
      }
      kc.loadFromFile(home);
      source = "home";
    }
  } catch (err) {
    if (err instanceof KubeConfigError) throw err;
    throw new KubeConfigError(`cannot load kubeconfig: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  if (opts.context) {
    if (!kc.getContexts().some((c) => c.name === opts.context)) {
      throw new KubeConfigError(`context ${opts.context} not found in kubeconfig`);
    }
    kc.setCurrentContext(opts.context);
  }
  if (!kc.getCurrentCluster()) {
    throw new KubeConfigError(
      "no Kubernetes cluster configured: pass --kubeconfig, set KUBECONFIG, or run in a pod with a service account",
    );
  }
  reuseConnections(kc);
  return { kubeConfig: kc, source };
}

type Dispatcher = { close(): Promise<void> };

/**
 * client-node 2.0 builds a new undici Agent for every request (applySecurityAuthentication ->
 * createDispatcher), so every API call opened a new TCP + TLS connection (a full handshake on both
 * sides, and the old sockets lingering until their idle timeout). Measured at a schedule boundary
 * (test/bench/boundary.bench.ts) this made TLS set-up the daemon's main CPU cost. Here one
 * dispatcher is kept and reused while the connection settings (server, proxy, CA, client
 * certificate and key, as read from their files on each request) stay the same; when they change
 * (rotated certificates) a new one is made and the old one closed once its requests are done.
 * Bearer tokens are headers, not dispatcher settings: token rotation is unaffected.
 */
export function reuseConnections(kc: KubeConfig): void {
  const target = kc as unknown as {
    createDispatcher?: (cluster: unknown, agentOptions: Record<string, unknown>) => Dispatcher | undefined;
  };
  const original = target.createDispatcher;
  if (typeof original !== "function") return;
  let cached: { key: string; dispatcher: Dispatcher | undefined } | undefined;
  target.createDispatcher = (cluster, agentOptions) => {
    const key = dispatcherKey(cluster, agentOptions);
    if (cached !== undefined && cached.key === key) return cached.dispatcher;
    const previous = cached?.dispatcher;
    const dispatcher = original.call(kc, cluster, agentOptions);
    cached = { key, dispatcher };
    previous?.close().catch(() => undefined);
    return dispatcher;
  };
}

function dispatcherKey(cluster: unknown, agentOptions: Record<string, unknown>): string {
  const c = (cluster ?? {}) as { server?: string; proxyUrl?: string };
  const parts: string[] = [c.server ?? "", c.proxyUrl ?? ""];
  for (const k of ["ca", "cert", "key", "pfx", "passphrase", "rejectUnauthorized", "servername"]) {
    const v = agentOptions[k];
    parts.push(Buffer.isBuffer(v) ? v.toString("base64") : v === undefined ? "" : String(v));
  }
  return parts.join("\0");
}

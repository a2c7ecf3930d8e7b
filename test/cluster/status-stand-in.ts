// Status stand-ins for the controllers the local control plane does not run: no gateway and no
// Knative networking layer proxies traffic here (kwok pods have no network), but KServe and Knative
// wait for those controllers to report before they call a service Ready. A stand-in writes only the
// status such a controller would write, and nothing else: it creates, deletes and proxies nothing.
//
//   node test/cluster/status-stand-in.ts gateway           HTTPRoutes attached to the test Gateway: Accepted, ResolvedRefs
//   node test/cluster/status-stand-in.ts knative-ingress   Knative KIngresses: Ready, with load balancer addresses
//
// Kubeconfig from $KUBECONFIG. It polls (every 250 ms) instead of watching: a handful of objects on
// loopback, and no watch to restart after an error. Stops on SIGTERM/SIGINT.
import { request as httpsRequest, type RequestOptions } from "node:https";
import { setTimeout as sleep } from "node:timers/promises";
import { pathToFileURL } from "node:url";
import { KubeConfig } from "@kubernetes/client-node";

export type Condition = {
  type: string;
  status: "True" | "False" | "Unknown";
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
  observedGeneration?: number;
};

type Meta = { name?: string; namespace?: string; generation?: number };
type ParentRef = { group?: string; kind?: string; name: string; namespace?: string; sectionName?: string; port?: number };
export type HttpRoute = {
  metadata?: Meta;
  spec?: { parentRefs?: ParentRef[] };
  status?: { parents?: { parentRef: ParentRef; controllerName: string; conditions?: Condition[] }[] };
};
export type KIngress = {
  metadata?: Meta & { annotations?: Record<string, string> };
  spec?: unknown;
  status?: { observedGeneration?: number; conditions?: (Condition & { severity?: string })[] };
};

/** The Gateway the test GatewayClass serves: only routes attached to it are this stand-in's business. */
export type GatewayRef = { namespace: string; name: string; controllerName: string };

/**
 * The status a gateway controller writes on an HTTPRoute attached to `gateway`, or undefined when it
 * already says so (or the route is not attached to it). Other parents' entries are kept.
 */
export function httpRouteStatus(route: HttpRoute, gateway: GatewayRef, now: Date): HttpRoute["status"] | undefined {
  const routeNs = route.metadata?.namespace ?? "";
  const generation = route.metadata?.generation ?? 0;
  const ours = (route.spec?.parentRefs ?? []).filter(
    (ref) =>
      (ref.group ?? "gateway.networking.k8s.io") === "gateway.networking.k8s.io" &&
      (ref.kind ?? "Gateway") === "Gateway" &&
      ref.name === gateway.name &&
      (ref.namespace ?? routeNs) === gateway.namespace,
  );
  if (ours.length === 0) return undefined;
  const existing = route.status?.parents ?? [];
  const upToDate = ours.every((ref) =>
    existing.some(
      (p) =>
        p.controllerName === gateway.controllerName &&
        sameRef(p.parentRef, ref) &&
        ["Accepted", "ResolvedRefs"].every((t) =>
          p.conditions?.some((c) => c.type === t && c.status === "True" && c.observedGeneration === generation),
        ),
    ),
  );
  if (upToDate) return undefined;
  const time = now.toISOString().replace(/\.\d+Z$/, "Z");
  const condition = (type: string, reason: string): Condition => ({
    type,
    status: "True",
    reason,
    message: "marked by the local control plane's gateway status stand-in (no gateway proxies traffic here)",
    lastTransitionTime: time,
    observedGeneration: generation,
  });
  return {
    parents: [
      ...existing.filter((p) => p.controllerName !== gateway.controllerName),
      ...ours.map((ref) => ({
        parentRef: ref,
        controllerName: gateway.controllerName,
        conditions: [condition("Accepted", "Accepted"), condition("ResolvedRefs", "ResolvedRefs")],
      })),
    ],
  };
}

function sameRef(a: ParentRef, b: ParentRef): boolean {
  return a.name === b.name && a.namespace === b.namespace && a.sectionName === b.sectionName && a.port === b.port;
}

/**
 * The status Knative's networking layer (Istio, Kourier, ...) writes on a KIngress it has
 * programmed, or undefined when it already says so. Knative's route controller waits for Ready at
 * the current generation and reads the private load balancer's address for the route's Service.
 */
export function kingressStatus(ingress: KIngress, now: Date): Record<string, unknown> | undefined {
  const generation = ingress.metadata?.generation ?? 0;
  const status = ingress.status;
  const ready = ["LoadBalancerReady", "NetworkConfigured", "Ready"].every((t) =>
    status?.conditions?.some((c) => c.type === t && c.status === "True"),
  );
  if (ready && status?.observedGeneration === generation) return undefined;
  const time = now.toISOString().replace(/\.\d+Z$/, "Z");
  const lb = { ingress: [{ domainInternal: "kserve-reclaimer-test-ingress.knative-serving.svc.cluster.local" }] };
  return {
    observedGeneration: generation,
    conditions: ["LoadBalancerReady", "NetworkConfigured", "Ready"].map((type) => ({
      type,
      status: "True",
      lastTransitionTime: time,
    })),
    publicLoadBalancer: lb,
    privateLoadBalancer: lb,
  };
}

type Rule = { collection: string; status: (obj: unknown, now: Date) => unknown };

function rules(kind: string): Rule {
  if (kind === "gateway") {
    const gateway: GatewayRef = {
      namespace: process.env["GATEWAY_NAMESPACE"] ?? "",
      name: process.env["GATEWAY_NAME"] ?? "",
      controllerName: process.env["GATEWAY_CONTROLLER"] ?? "",
    };
    if (!gateway.namespace || !gateway.name || !gateway.controllerName) {
      throw new Error("gateway: GATEWAY_NAMESPACE, GATEWAY_NAME and GATEWAY_CONTROLLER must be set");
    }
    return {
      collection: "/apis/gateway.networking.k8s.io/v1/httproutes",
      status: (obj, now) => httpRouteStatus(obj as HttpRoute, gateway, now),
    };
  }
  if (kind === "knative-ingress") {
    return {
      collection: "/apis/networking.internal.knative.dev/v1alpha1/ingresses",
      status: (obj, now) => kingressStatus(obj as KIngress, now),
    };
  }
  throw new Error(`unknown stand-in ${JSON.stringify(kind)} (gateway or knative-ingress)`);
}

class Api {
  readonly server: URL;
  readonly options: RequestOptions = {};
  constructor(kc: KubeConfig) {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error("the kubeconfig has no current cluster");
    this.server = new URL(cluster.server);
    this.ready = kc.applyToHTTPSOptions(this.options);
  }
  readonly ready: Promise<void>;

  call(method: string, path: string, body?: unknown): Promise<{ status: number; body: string }> {
    return new Promise((resolveCall, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const req = httpsRequest(
        new URL(path, this.server),
        {
          ...this.options,
          method,
          timeout: 10_000,
          headers: payload === undefined ? {} : { "content-type": "application/merge-patch+json" },
        },
        (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (chunk: string) => (text += chunk));
          res.on("end", () => resolveCall({ status: res.statusCode ?? 0, body: text }));
        },
      );
      req.on("timeout", () => req.destroy(new Error("timeout")));
      req.on("error", reject);
      req.end(payload);
    });
  }
}

async function run(kind: string): Promise<void> {
  const rule = rules(kind);
  const kc = new KubeConfig();
  kc.loadFromDefault();
  const api = new Api(kc);
  await api.ready;
  let stopping = false;
  const stop = () => {
    stopping = true;
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  console.log(`status stand-in ${kind}: marking ${rule.collection}`);
  while (!stopping) {
    try {
      const list = await api.call("GET", rule.collection);
      // 404 until the CRD exists: nothing to mark yet.
      if (list.status === 200) {
        const items = (JSON.parse(list.body) as { items?: { metadata?: Meta }[] }).items ?? [];
        for (const item of items) {
          const status = rule.status(item, new Date());
          if (status === undefined) continue;
          const { namespace, name } = item.metadata ?? {};
          const path = `${rule.collection.replace(/\/([^/]+)$/, `/namespaces/${namespace}/$1`)}/${name}/status`;
          const res = await api.call("PATCH", path, { status });
          if (res.status === 200) console.log(`marked ${namespace}/${name}`);
          else if (res.status !== 404 && res.status !== 409) console.log(`PATCH ${path}: HTTP ${res.status} ${res.body.slice(0, 300)}`);
        }
      } else if (list.status !== 404) {
        console.log(`GET ${rule.collection}: HTTP ${list.status} ${list.body.slice(0, 300)}`);
      }
    } catch (err) {
      console.log(`error: ${err instanceof Error ? err.message : String(err)}`);
    }
    await sleep(250);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  run(process.argv[2] ?? "").then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : String(err));
      process.exit(2);
    },
  );
}

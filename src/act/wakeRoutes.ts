// The wake routes: while a wake-enabled InferenceService is stopped by the daemon, `<isvc>-wake`
// in its namespace sends its hosts to the waker. Gateway API mode: an HTTPRoute on KServe's
// Gateway, backed by the waker Service across namespaces (a ReferenceGrant in the waker's namespace
// allows it). Ingress mode: an Ingress of KServe's class, backed by an ExternalName Service
// `<isvc>-wake` naming the waker Service (an Ingress backend must be in its own namespace).
// Every object carries the daemon's labels and a (non-controller) ownerReference to the service,
// so deleting the service deletes them. Objects of that name without our labels are never touched.
// Writes go over the same lean HTTP path as the annotation patcher, through the shared WriteLimiter.
import { request as httpRequest } from "node:http";
import { request as httpsRequest, type RequestOptions } from "node:https";
import type { KubeConfig } from "@kubernetes/client-node";
import { createHash } from "node:crypto";
import { ISVC_API_VERSION, ISVC_KIND } from "../sources/kube/inferenceService.ts";
import type { KServeIngress } from "../sources/kube/kserveIngress.ts";
import { apiFailure } from "./apiError.ts";
import { KubeHttp, KubeHttpError, type KubeResponse } from "./kubeHttp.ts";
import type { WriteLimiter } from "./writeLimiter.ts";

export const MANAGED_BY = "app.kubernetes.io/managed-by";
export const MANAGER = "kserve-reclaimer";
export const WAKE_FOR = "reclaimer.dev/wake-for";
const GATEWAY_GROUP = "gateway.networking.k8s.io";
const SELECTOR = encodeURIComponent(`${MANAGED_BY}=${MANAGER},${WAKE_FOR}`);

export type RouteKind = "Ingress" | "HTTPRoute";
export type KubeRequest = (method: string, path: string, body?: string) => Promise<KubeResponse>;

/** The waker's Service, the backend of every wake route. */
export type WakerBackend = { namespace: string; name: string; port: number; clusterDomain: string };

export type WakeTarget = { namespace: string; name: string; uid: string | undefined; hosts: readonly string[] };

/** A wake route write failed; the reconciler retries it with backoff and reports it. */
export class WakeRouteError extends Error {
  override readonly name = "WakeRouteError";
  readonly code: number | undefined;
  constructor(message: string, code: number | undefined, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** `<isvc>-wake`, cut to a DNS label (63) with a hash when the service's name is long. */
export function wakeRouteName(isvc: string): string {
  const plain = `${isvc}-wake`;
  if (plain.length <= 63) return plain;
  const hash = createHash("sha256").update(isvc).digest("hex").slice(0, 8);
  return `${isvc.slice(0, 63 - 14).replace(/-+$/, "")}-${hash}-wake`;
}

export function referenceGrantName(fromNamespace: string): string {
  const plain = `kserve-reclaimer-wake-${fromNamespace}`;
  return plain.length <= 253 ? plain : plain.slice(0, 253);
}

type Meta = { name?: string; namespace?: string; uid?: string; labels?: Record<string, string> };
type ListBody = { items?: { metadata?: Meta }[]; metadata?: { continue?: string } };

export type WakeRouteOptions = { request: KubeRequest; limiter: WriteLimiter; backend: WakerBackend };

export class WakeRouteWriter {
  readonly #request: KubeRequest;
  readonly #limiter: WriteLimiter;
  readonly #backend: WakerBackend;
  /** Namespaces whose ReferenceGrant this process created or found: one write per namespace, not per route. */
  readonly #grants = new Set<string>();

  constructor(o: WakeRouteOptions) {
    this.#request = o.request;
    this.#limiter = o.limiter;
    this.#backend = o.backend;
  }

  get backend(): WakerBackend {
    return this.#backend;
  }

  /**
   * Every wake route there is, by the service it is for ("namespace/isvc"): Ingresses, and
   * HTTPRoutes when the Gateway API is served. One paginated LIST per kind and scope.
   */
  async list(namespaces: readonly string[] | undefined): Promise<Map<string, Set<RouteKind>>> {
    const found = new Map<string, Set<RouteKind>>();
    const scopes = namespaces && namespaces.length > 0 ? namespaces : [undefined];
    const kinds: [RouteKind, string][] = [
      ["Ingress", "/apis/networking.k8s.io/v1"],
      ["HTTPRoute", `/apis/${GATEWAY_GROUP}/v1`],
    ];
    for (const [kind, base] of kinds) {
      const plural = kind === "Ingress" ? "ingresses" : "httproutes";
      for (const ns of scopes) {
        const path = ns === undefined ? `${base}/${plural}` : `${base}/namespaces/${encodeURIComponent(ns)}/${plural}`;
        let items: { metadata?: Meta }[];
        try {
          items = await this.#listAll(path);
        } catch (err) {
          // no Gateway API in this cluster: there are no HTTPRoutes to find
          if (kind === "HTTPRoute" && apiFailure(err).code === 404) continue;
          throw new WakeRouteError(`could not list wake ${plural}: ${apiFailure(err).message}`, apiFailure(err).code, { cause: err });
        }
        for (const item of items) {
          const isvc = item.metadata?.labels?.[WAKE_FOR];
          if (!isvc || !item.metadata?.namespace) continue;
          const key = `${item.metadata.namespace}/${isvc}`;
          let kindsOf = found.get(key);
          if (!kindsOf) found.set(key, (kindsOf = new Set()));
          kindsOf.add(kind);
        }
      }
    }
    return found;
  }

  async #listAll(path: string): Promise<{ metadata?: Meta }[]> {
    const out: { metadata?: Meta }[] = [];
    let cont: string | undefined;
    for (let page = 0; page < 1000; page++) {
      const q = `?labelSelector=${SELECTOR}&limit=500${cont ? `&continue=${encodeURIComponent(cont)}` : ""}`;
      const body = JSON.parse((await this.#request("GET", path + q)).body) as ListBody;
      out.push(...(body.items ?? []));
      cont = body.metadata?.continue;
      if (!cont) break;
    }
    return out;
  }

  /** Creates the wake route of the mode KServe is in (objects that exist already are left as they are). */
  async ensure(target: WakeTarget, kserve: KServeIngress): Promise<RouteKind> {
    if (target.hosts.length === 0) throw new WakeRouteError(`${target.namespace}/${target.name} has no host to route`, undefined);
    if (kserve.enableGatewayApi) {
      await this.#ensureGrant(target.namespace);
      await this.#create(
        `/apis/${GATEWAY_GROUP}/v1/namespaces/${encodeURIComponent(target.namespace)}/httproutes`,
        this.#httpRoute(target, kserve),
      );
      return "HTTPRoute";
    }
    await this.#create(`/api/v1/namespaces/${encodeURIComponent(target.namespace)}/services`, this.#externalName(target));
    await this.#create(
      `/apis/networking.k8s.io/v1/namespaces/${encodeURIComponent(target.namespace)}/ingresses`,
      this.#ingress(target, kserve),
    );
    return "Ingress";
  }

  /** Deletes every wake object of the service (both modes): ours only, by uid precondition. */
  async remove(namespace: string, isvc: string): Promise<void> {
    const name = encodeURIComponent(wakeRouteName(isvc));
    const ns = encodeURIComponent(namespace);
    for (const path of [
      `/apis/${GATEWAY_GROUP}/v1/namespaces/${ns}/httproutes/${name}`,
      `/apis/networking.k8s.io/v1/namespaces/${ns}/ingresses/${name}`,
      `/api/v1/namespaces/${ns}/services/${name}`,
    ]) {
      await this.#deleteOurs(path, isvc);
    }
  }

  #labels(isvc: string): Record<string, string> {
    return { [MANAGED_BY]: MANAGER, [WAKE_FOR]: isvc };
  }

  #meta(target: WakeTarget): Record<string, unknown> {
    return {
      name: wakeRouteName(target.name),
      namespace: target.namespace,
      labels: this.#labels(target.name),
      // not a controller reference: KServe controls the service, this only follows it when it is deleted
      ...(target.uid ? { ownerReferences: [{ apiVersion: ISVC_API_VERSION, kind: ISVC_KIND, name: target.name, uid: target.uid }] } : {}),
    };
  }

  #httpRoute(target: WakeTarget, kserve: KServeIngress): unknown {
    const b = this.#backend;
    return {
      apiVersion: `${GATEWAY_GROUP}/v1`,
      kind: "HTTPRoute",
      metadata: this.#meta(target),
      spec: {
        parentRefs: [{ group: GATEWAY_GROUP, kind: "Gateway", namespace: kserve.gateway.namespace, name: kserve.gateway.name }],
        hostnames: target.hosts,
        rules: [
          {
            matches: [{ path: { type: "PathPrefix", value: "/" } }],
            backendRefs: [{ group: "", kind: "Service", namespace: b.namespace, name: b.name, port: b.port }],
          },
        ],
      },
    };
  }

  #externalName(target: WakeTarget): unknown {
    const b = this.#backend;
    return {
      apiVersion: "v1",
      kind: "Service",
      metadata: this.#meta(target),
      spec: {
        type: "ExternalName",
        externalName: `${b.name}.${b.namespace}.svc.${b.clusterDomain}`,
        ports: [{ name: "http", port: b.port, targetPort: b.port, protocol: "TCP" }],
      },
    };
  }

  #ingress(target: WakeTarget, kserve: KServeIngress): unknown {
    const backend = { service: { name: wakeRouteName(target.name), port: { number: this.#backend.port } } };
    return {
      apiVersion: "networking.k8s.io/v1",
      kind: "Ingress",
      metadata: this.#meta(target),
      spec: {
        ...(kserve.ingressClassName ? { ingressClassName: kserve.ingressClassName } : {}),
        rules: target.hosts.map((host) => ({ host, http: { paths: [{ path: "/", pathType: "Prefix", backend }] } })),
      },
    };
  }

  async #ensureGrant(fromNamespace: string): Promise<void> {
    if (this.#grants.has(fromNamespace)) return;
    const b = this.#backend;
    await this.#create(`/apis/${GATEWAY_GROUP}/v1beta1/namespaces/${encodeURIComponent(b.namespace)}/referencegrants`, {
      apiVersion: `${GATEWAY_GROUP}/v1beta1`,
      kind: "ReferenceGrant",
      metadata: {
        name: referenceGrantName(fromNamespace),
        namespace: b.namespace,
        labels: { [MANAGED_BY]: MANAGER, [WAKE_FOR]: fromNamespace.slice(0, 63).replace(/-+$/, "") },
      },
      spec: {
        from: [{ group: GATEWAY_GROUP, kind: "HTTPRoute", namespace: fromNamespace }],
        to: [{ group: "", kind: "Service", name: b.name }],
      },
    });
    this.#grants.add(fromNamespace);
  }

  /** POST; an object of that name that exists already is fine if it is ours, an error if it is someone else's. */
  async #create(collection: string, obj: unknown): Promise<void> {
    const meta = (obj as { metadata: Meta }).metadata;
    try {
      await this.#limiter.run(() => this.#request("POST", `${collection}?fieldManager=${MANAGER}`, JSON.stringify(obj)));
      return;
    } catch (err) {
      const f = apiFailure(err);
      if (f.code !== 409)
        throw new WakeRouteError(`could not create ${collection.split("/").pop()} ${meta.name}: ${f.message}`, f.code, { cause: err });
    }
    const existing = await this.#get(`${collection}/${encodeURIComponent(meta.name ?? "")}`);
    if (existing?.labels?.[MANAGED_BY] !== MANAGER)
      throw new WakeRouteError(
        `${collection.split("/").pop()} ${meta.namespace}/${meta.name} exists and is not kserve-reclaimer's: left alone`,
        409,
      );
  }

  async #get(path: string): Promise<Meta | undefined> {
    try {
      return (JSON.parse((await this.#request("GET", path)).body) as { metadata?: Meta }).metadata;
    } catch (err) {
      if (apiFailure(err).code === 404) return undefined;
      throw new WakeRouteError(`could not read ${path}: ${apiFailure(err).message}`, apiFailure(err).code, { cause: err });
    }
  }

  async #deleteOurs(path: string, isvc: string): Promise<void> {
    let meta: Meta | undefined;
    try {
      meta = await this.#get(path);
    } catch (err) {
      // no Gateway API served: nothing of that kind to delete
      if (err instanceof WakeRouteError && err.code === 404) return;
      throw err;
    }
    if (!meta || meta.labels?.[MANAGED_BY] !== MANAGER || meta.labels?.[WAKE_FOR] !== isvc) return;
    const body = JSON.stringify({ kind: "DeleteOptions", apiVersion: "v1", preconditions: { uid: meta.uid } });
    try {
      await this.#limiter.run(() => this.#request("DELETE", path, body));
    } catch (err) {
      const code = apiFailure(err).code;
      // gone already, or replaced by another object of that name meanwhile (uid precondition)
      if (code === 404 || code === 409) return;
      throw new WakeRouteError(`could not delete ${path}: ${apiFailure(err).message}`, code, { cause: err });
    }
  }
}

/**
 * The request function: KubeHttp's keep-alive path when it can serve the user, otherwise one
 * request per call with client-node's authentication applied each time (exec plugins, providers).
 */
export function kubeRequest(kc: KubeConfig): KubeRequest {
  const http = KubeHttp.forConfig(kc);
  if (http) return (method, path, body) => http.request(method, path, body);
  return async (method, path, body) => {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new KubeHttpError(undefined, undefined, "no current cluster in the kubeconfig");
    const server = new URL(cluster.server);
    const opts: RequestOptions = { method, headers: { accept: "application/json" } };
    await kc.applyToHTTPSOptions(opts);
    return new Promise<KubeResponse>((resolve, reject) => {
      const headers: Record<string, string | number> = { ...(opts.headers as Record<string, string>) };
      if (body !== undefined) {
        headers["content-type"] = "application/json";
        headers["content-length"] = Buffer.byteLength(body);
      }
      const o: RequestOptions = {
        ...opts,
        protocol: server.protocol,
        hostname: server.hostname,
        port: server.port,
        path,
        headers,
        timeout: 60_000,
      };
      const onResponse = (res: import("node:http").IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const status = res.statusCode ?? 0;
          const text = Buffer.concat(chunks).toString("utf8");
          if (status >= 200 && status < 300) resolve({ status, body: text });
          else reject(new KubeHttpError(status, text, `HTTP ${status} ${method} ${path}`));
        });
        res.on("error", reject);
      };
      const req = server.protocol === "https:" ? httpsRequest(o, onResponse) : httpRequest(o, onResponse);
      req.on("error", (err) => reject(new KubeHttpError(undefined, undefined, `${method} ${path}: ${err.message}`, { cause: err })));
      req.on("timeout", () => req.destroy(new Error("no answer in 60000 ms")));
      req.end(body);
    });
  };
}

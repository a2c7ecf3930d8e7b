// The daemon's side of wake on request, apart from the decision (src/decide/) and the HTTP API
// (wakeApi.ts): KServe's ingress settings, the host -> service index the API looks hosts up in,
// the wake routes as the reconciler sees them (listed once a minute, so a route someone deleted is
// re-created and a daemon restart knows what exists), and the predictor pods' scheduling message.
import type { KubeRequest, WakeRouteWriter } from "../act/wakeRoutes.ts";
import { isStopSet, readState } from "../api/annotations.ts";
import type { Decision } from "../decide/decide.ts";
import { apiFailure } from "../act/apiError.ts";
import {
  DEFAULT_KSERVE_INGRESS,
  KSERVE_CONFIG_MAP,
  KSERVE_INGRESS_KEY,
  type KServeIngress,
  normalizeHost,
  parseKServeIngress,
  serviceHosts,
  templateReadsMetadata,
} from "../sources/kube/kserveIngress.ts";
import type { Service, ServiceId } from "../sources/kube/service.ts";
import { ISVC_KIND } from "../sources/kube/inferenceService.ts";
import { POD_SELECTION } from "../sources/kube/pods.ts";
import type { Logger } from "../report/log.ts";
import type { WakeRoutesPort } from "./ports.ts";

/** KServe's ingress settings, read from its ConfigMap; KServe's defaults when the ConfigMap or key is missing. */
export class KServeIngressSettings {
  readonly #request: KubeRequest;
  readonly #namespace: string;
  readonly #log: Pick<Logger, "info" | "warn">;
  #current: KServeIngress = DEFAULT_KSERVE_INGRESS;
  #lastProblem = "";
  #version = 0;

  constructor(request: KubeRequest, namespace: string, log: Pick<Logger, "info" | "warn">) {
    this.#request = request;
    this.#namespace = namespace;
    this.#log = log;
  }

  get current(): KServeIngress {
    return this.#current;
  }

  /** Bumped when the settings change: hosts computed from the old ones are stale. */
  get version(): number {
    return this.#version;
  }

  /** Reads the ConfigMap again; a failure keeps what was read last (logged once per message). */
  async refresh(): Promise<void> {
    let text: string | undefined;
    try {
      const res = await this.#request("GET", `/api/v1/namespaces/${encodeURIComponent(this.#namespace)}/configmaps/${KSERVE_CONFIG_MAP}`);
      const data = (JSON.parse(res.body) as { data?: Record<string, unknown> }).data ?? {};
      const value = data[KSERVE_INGRESS_KEY];
      text = typeof value === "string" ? value : undefined;
    } catch (err) {
      const f = apiFailure(err);
      if (f.code !== 404) {
        this.#problem(`could not read ConfigMap ${this.#namespace}/${KSERVE_CONFIG_MAP}: ${f.message}; hosts as read before`);
        return;
      }
      text = undefined;
    }
    const { config, problems } = parseKServeIngress(text);
    this.#problem(problems.join("; "));
    if (JSON.stringify(config) !== JSON.stringify(this.#current)) {
      this.#current = config;
      this.#version++;
      this.#log.info("KServe ingress settings", {
        configMap: `${this.#namespace}/${KSERVE_CONFIG_MAP}`,
        found: text !== undefined,
        ingressDomain: config.ingressDomain,
        domainTemplate: config.domainTemplate,
        gatewayApi: config.enableGatewayApi,
      });
    }
  }

  #problem(message: string): void {
    if (message === this.#lastProblem) return;
    this.#lastProblem = message;
    if (message !== "") this.#log.warn(`KServe ingress settings: ${message}`, { configMap: `${this.#namespace}/${KSERVE_CONFIG_MAP}` });
  }
}

/** Host -> "namespace/name" over every cached InferenceService, rebuilt when services come or go or the settings change. */
const AMBIGUOUS = Symbol("ambiguous host");

export class HostIndex {
  readonly #settings: Pick<KServeIngressSettings, "current" | "version">;
  readonly #services: () => Service[];
  #index = new Map<string, string | typeof AMBIGUOUS>();
  #builtFor = -1;
  #dirty = true;

  constructor(settings: Pick<KServeIngressSettings, "current" | "version">, services: () => Service[]) {
    this.#settings = settings;
    this.#services = services;
  }

  /** A service was added or deleted (or changed, when hosts read labels or annotations). */
  changed(kind: "add" | "update" | "delete"): void {
    if (kind !== "update" || templateReadsMetadata(this.#settings.current)) this.#dirty = true;
  }

  /** The service answering on this host (as the waker sends it), or undefined. */
  lookup(host: string): string | undefined {
    const h = normalizeHost(host);
    if (h === undefined) return undefined;
    if (this.#dirty || this.#builtFor !== this.#settings.version) this.#rebuild();
    const found = this.#index.get(h);
    return found === AMBIGUOUS ? undefined : found;
  }

  hostsOf(s: Pick<Service, "metadata">): string[] {
    return serviceHosts(this.#settings.current, s.metadata);
  }

  #rebuild(): void {
    // KServe's default template is ambiguous across namespaces (isvc "a-b" in "c" and "a" in "b-c"
    // both get a-b-c.<domain>): a host two services claim wakes neither, so one tenant's clients
    // can never start another tenant's model.
    const index = new Map<string, string | typeof AMBIGUOUS>();
    for (const s of this.#services())
      for (const h of this.hostsOf(s)) {
        const key = `${s.metadata.namespace}/${s.metadata.name}`;
        const had = index.get(h);
        index.set(h, had === undefined || had === key ? key : AMBIGUOUS);
      }
    this.#index = index;
    this.#builtFor = this.#settings.version;
    this.#dirty = false;
  }
}

/**
 * The wake routes as the reconciler asks about them: what the last listing (or this process's own
 * writes) found, per service. `refresh` lists again and pokes every service whose route came or went.
 */
export class WakeRouteBook implements WakeRoutesPort {
  readonly #writer: Pick<WakeRouteWriter, "list" | "ensure" | "remove">;
  readonly #settings: Pick<KServeIngressSettings, "current">;
  readonly #hosts: (s: Service) => string[];
  readonly #namespaces: readonly string[] | undefined;
  #present: Map<string, unknown> | undefined;

  constructor(o: {
    writer: Pick<WakeRouteWriter, "list" | "ensure" | "remove">;
    settings: Pick<KServeIngressSettings, "current">;
    hosts: (s: Service) => string[];
    namespaces: readonly string[] | undefined;
  }) {
    this.#writer = o.writer;
    this.#settings = o.settings;
    this.#hosts = o.hosts;
    this.#namespaces = o.namespaces;
  }

  has(key: string): boolean | undefined {
    return this.#present === undefined ? undefined : this.#present.has(key);
  }

  get count(): number {
    return this.#present?.size ?? 0;
  }

  /** Lists the routes; returns the services whose route appeared or disappeared since the last listing. */
  async refresh(): Promise<string[]> {
    const listed = await this.#writer.list(this.#namespaces);
    const before = this.#present;
    this.#present = listed;
    if (before === undefined) return [...listed.keys()];
    const changed = new Set<string>();
    for (const k of listed.keys()) if (!before.has(k)) changed.add(k);
    for (const k of before.keys()) if (!listed.has(k)) changed.add(k);
    return [...changed];
  }

  async ensure(service: Service): Promise<void> {
    const { namespace, name, uid } = service.metadata;
    const kind = await this.#writer.ensure({ namespace, name, uid, hosts: this.#hosts(service) }, this.#settings.current);
    this.#present ??= new Map();
    this.#present.set(`${namespace}/${name}`, kind);
  }

  async remove(namespace: string, name: string): Promise<void> {
    await this.#writer.remove(namespace, name);
    this.#present?.delete(`${namespace}/${name}`);
  }
}

type PodList = {
  items?: { status?: { conditions?: { type?: string; status?: string; reason?: string; message?: string }[] } }[];
};

/** The scheduler's message on the service's predictor pods (PodScheduled=False, Unschedulable), or undefined. */
export async function predictorUnschedulable(request: KubeRequest, { kind, namespace, name }: ServiceId): Promise<string | undefined> {
  const { labelSelector, nameLabel } = POD_SELECTION[kind];
  const selector = encodeURIComponent(kind === ISVC_KIND ? `${nameLabel}=${name}` : `${labelSelector},${nameLabel}=${name}`);
  const res = await request("GET", `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods?labelSelector=${selector}&limit=50`);
  const pods = (JSON.parse(res.body) as PodList).items ?? [];
  for (const pod of pods) {
    const c = pod.status?.conditions?.find((x) => x.type === "PodScheduled");
    if (c?.status === "False" && c.reason === "Unschedulable") return (c.message ?? "Unschedulable").slice(0, 500);
  }
  return undefined;
}

/**
 * Where the wake route should be: there (created before the stop patch) while the daemon has the
 * service stopped and its schedule wakes on request; kept while it starts again, so requests reach
 * the waker until KServe's own route serves a Ready predictor; gone otherwise.
 */
export function wakeRouteWanted(
  decision: Pick<Decision, "action" | "confirmed">,
  annotations: Record<string, string>,
  wakeEnabled: boolean,
): "there" | "kept" | "gone" {
  if (!wakeEnabled) return "gone";
  const stopSet = isStopSet(annotations);
  const state = readState(annotations);
  const daemonStopped = stopSet && state.kind === "ok" && state.state.action === "stop";
  if (decision.action === "stop" || (daemonStopped && decision.action !== "start")) return "there";
  if (decision.action === "start" || (!stopSet && !decision.confirmed)) return "kept";
  return "gone";
}

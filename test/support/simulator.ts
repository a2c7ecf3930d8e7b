// Traffic simulator: plays the model servers of KServe InferenceServices on a
// cluster where pods are only kwok fakes. It watches InferenceServices and
// their pods, serves predict requests only for InferenceServices whose
// predictor pods are Ready, and exposes per-InferenceService request counters
// with the names and labels of the real servers on /metrics:
//   request_predict_seconds_count{namespace,model_name}           KServe Python runtimes
//   vllm:request_success_total{namespace,model_name,finished_reason}  vLLM
//   revision_app_request_count{namespace_name,service_name="<isvc>-predictor",...}  Knative queue-proxy
//   istio_requests_total{reporter="destination",destination_service_name,destination_service_namespace,...}
// Like the real servers, the series of an InferenceService exist only while a
// predictor pod is Ready, and restart from zero when it comes back (a new
// process). Requests to a service that is not Ready are answered 503 and
// counted only in kserve_reclaimer_simulator_requests_total{outcome="rejected"}.
//
// HTTP API (see SimulatorClient):
//   POST /control/send {"target":"ns/name","rps":5,"seconds":30}   start (or replace) load
//   POST /control/stop {"target":"ns/name"} | {}                    stop load (all when no target)
//   GET  /control/state                                             services, readiness, counts, loads
//   POST /v1/namespaces/<ns>/inferenceservices/<name>:predict       one predict request
//   POST [/v1/namespaces/<ns>/inferenceservices/<name>][/openai]/v1/chat/completions | .../v1/completions
//        an OpenAI-compatible model server (vLLM, KServe's huggingface runtime): JSON, or with
//        "stream": true server-sent events `data: {...}` a few ms apart, ending `data: [DONE]`.
//        Without the path prefix the service is read from the Host (or X-Forwarded-Host) the waker's
//        default upstream template gives: <name>-predictor.<ns>.svc[.cluster.local]. Counted as predicts.
//   GET  /metrics, GET /healthz
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import {
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  makeInformer,
  type Informer,
  type KubernetesObject,
  type ObjectCache,
  type V1Pod,
} from "@kubernetes/client-node";

export const ISVC_LABEL = "serving.kserve.io/inferenceservice";

export type Load = { rps: number; seconds: number };

type Counts = { served: number; rejected: number };

type ServiceState = {
  /** Requests served by the current incarnation of the model server (reset when it comes back). */
  served: number;
  /** Total requests rejected (503) since the simulator started. */
  rejected: number;
  /** Total requests served since the simulator started, over all incarnations. */
  servedTotal: number;
  wasReady: boolean;
  incarnations: number;
};

type ActiveLoad = { rps: number; start: number; until: number; issued: number };

export type ServiceReport = {
  target: string;
  exists: boolean;
  ready: boolean;
  served: number;
  servedTotal: number;
  rejected: number;
  incarnations: number;
  load: { rps: number; remainingSeconds: number } | null;
};

/** What the simulator needs to know about the cluster; the Kubernetes-backed one is below. */
export type ReadinessSource = {
  exists(namespace: string, name: string): boolean;
  ready(namespace: string, name: string): boolean;
  known(): string[];
};

/** The simulator's logic, with the clock and readiness injected. */
export class SimulatorCore {
  readonly services = new Map<string, ServiceState>();
  readonly loads = new Map<string, ActiveLoad>();
  readonly readiness: ReadinessSource;
  readonly now: () => number;

  constructor(readiness: ReadinessSource, now: () => number = Date.now) {
    this.readiness = readiness;
    this.now = now;
  }

  private state(target: string): ServiceState {
    let s = this.services.get(target);
    if (!s) {
      s = { served: 0, rejected: 0, servedTotal: 0, wasReady: false, incarnations: 0 };
      this.services.set(target, s);
    }
    return s;
  }

  /** Re-reads readiness of a service: a server that comes back starts its counters from zero. */
  refresh(target: string): boolean {
    const [ns, name] = splitTarget(target);
    const ready = this.readiness.ready(ns, name);
    const s = this.state(target);
    if (ready && !s.wasReady) {
      s.served = 0;
      s.incarnations += 1;
    }
    s.wasReady = ready;
    return ready;
  }

  /** One predict request; true when served. */
  predict(target: string): boolean {
    const ready = this.refresh(target);
    const s = this.state(target);
    if (ready) {
      s.served += 1;
      s.servedTotal += 1;
    } else {
      s.rejected += 1;
    }
    return ready;
  }

  send(target: string, load: Load): void {
    splitTarget(target);
    if (!(load.rps > 0) || !(load.seconds > 0)) throw new Error(`rps and seconds must be > 0, got ${JSON.stringify(load)}`);
    const now = this.now();
    this.loads.set(target, { rps: load.rps, start: now, until: now + load.seconds * 1000, issued: 0 });
  }

  stop(target?: string): void {
    if (target === undefined) this.loads.clear();
    else this.loads.delete(target);
  }

  /** Issues the requests every load owes by now (rps x elapsed time, exactly, without drift). */
  tick(): Counts {
    const counts = { served: 0, rejected: 0 };
    const now = this.now();
    for (const [target, load] of this.loads) {
      const due = Math.floor((load.rps * (Math.min(now, load.until) - load.start)) / 1000 + 1e-9);
      for (; load.issued < due; load.issued += 1) {
        if (this.predict(target)) counts.served += 1;
        else counts.rejected += 1;
      }
      if (now >= load.until) this.loads.delete(target);
    }
    return counts;
  }

  report(): ServiceReport[] {
    const targets = new Set([...this.services.keys(), ...this.loads.keys(), ...this.readiness.known()]);
    return [...targets].sort().map((target) => {
      const [ns, name] = splitTarget(target);
      const ready = this.refresh(target);
      const s = this.state(target);
      const load = this.loads.get(target);
      return {
        target,
        exists: this.readiness.exists(ns, name),
        ready,
        served: s.served,
        servedTotal: s.servedTotal,
        rejected: s.rejected,
        incarnations: s.incarnations,
        load: load ? { rps: load.rps, remainingSeconds: Math.max(0, (load.until - this.now()) / 1000) } : null,
      };
    });
  }

  metrics(): string {
    const lines: string[] = [];
    const ready = this.report().filter((r) => r.ready);
    const family = (name: string, type: string, help: string, rows: string[]) => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...rows);
    };
    const esc = (v: string) => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"');
    const labels = (l: Record<string, string>) =>
      `{${Object.entries(l)
        .map(([k, v]) => `${k}="${esc(v)}"`)
        .join(",")}}`;
    const each = (f: (ns: string, name: string, served: number) => string[]) =>
      ready.flatMap((r) => {
        const [ns, name] = splitTarget(r.target);
        return f(ns, name, r.served);
      });
    family(
      "request_predict_seconds",
      "histogram",
      "predict latency in seconds (KServe Python runtime)",
      each((ns, name, n) => [
        `request_predict_seconds_bucket${labels({ namespace: ns, model_name: name, le: "+Inf" })} ${n}`,
        `request_predict_seconds_sum${labels({ namespace: ns, model_name: name })} ${(n * 0.01).toFixed(2)}`,
        `request_predict_seconds_count${labels({ namespace: ns, model_name: name })} ${n}`,
      ]),
    );
    family(
      "vllm:request_success_total",
      "counter",
      "Count of successfully processed requests (vLLM)",
      each((ns, name, n) => [`vllm:request_success_total${labels({ namespace: ns, model_name: name, finished_reason: "stop" })} ${n}`]),
    );
    family(
      "revision_app_request_count",
      "counter",
      "The number of requests that are routed to user-container (Knative queue-proxy)",
      each((ns, name, n) => [
        `revision_app_request_count${labels({
          namespace_name: ns,
          service_name: `${name}-predictor`,
          configuration_name: `${name}-predictor`,
          revision_name: `${name}-predictor-00001`,
          response_code: "200",
          response_code_class: "2xx",
        })} ${n}`,
      ]),
    );
    family(
      "istio_requests_total",
      "counter",
      "Requests seen by the destination sidecar (Istio)",
      each((ns, name, n) => [
        `istio_requests_total${labels({
          reporter: "destination",
          destination_service_name: `${name}-predictor`,
          destination_service_namespace: ns,
          response_code: "200",
        })} ${n}`,
      ]),
    );
    family(
      "kserve_reclaimer_simulator_requests_total",
      "counter",
      "Requests the simulator issued or received, by outcome (test instrumentation, not a real server metric)",
      this.report().flatMap((r) => {
        const [ns, name] = splitTarget(r.target);
        return [
          `kserve_reclaimer_simulator_requests_total${labels({ namespace: ns, inferenceservice: name, outcome: "served" })} ${r.servedTotal}`,
          `kserve_reclaimer_simulator_requests_total${labels({ namespace: ns, inferenceservice: name, outcome: "rejected" })} ${r.rejected}`,
        ];
      }),
    );
    return `${lines.join("\n")}\n`;
  }
}

export function splitTarget(target: string): [string, string] {
  const parts = target.split("/");
  if (parts.length !== 2 || !parts[0] || !parts[1]) throw new Error(`target must be "<namespace>/<name>", got ${JSON.stringify(target)}`);
  return [parts[0], parts[1]];
}

type Isvc = KubernetesObject;

/** Readiness from watches of InferenceServices and their pods. */
export class KubeReadiness implements ReadinessSource {
  private readonly kc: KubeConfig;
  private pods: (Informer<V1Pod> & ObjectCache<V1Pod>) | undefined;
  private isvcs: (Informer<Isvc> & ObjectCache<Isvc>) | undefined;
  private stopped = false;
  lastError: string | undefined;

  constructor(kc: KubeConfig) {
    this.kc = kc;
  }

  async start(): Promise<void> {
    const core = this.kc.makeApiClient(CoreV1Api);
    const custom = this.kc.makeApiClient(CustomObjectsApi);
    this.pods = makeInformer<V1Pod>(this.kc, "/api/v1/pods", () => core.listPodForAllNamespaces({ labelSelector: ISVC_LABEL }), ISVC_LABEL);
    this.isvcs = makeInformer<Isvc>(
      this.kc,
      "/apis/serving.kserve.io/v1beta1/inferenceservices",
      () => custom.listClusterCustomObject({ group: "serving.kserve.io", version: "v1beta1", plural: "inferenceservices" }) as never,
    );
    for (const informer of [this.pods, this.isvcs] as Informer<KubernetesObject>[]) {
      let backoff = 500;
      informer.on("error", (err: unknown) => {
        this.lastError = err instanceof Error ? err.message : String(err);
        if (this.stopped) return;
        const delay = backoff * (0.5 + Math.random());
        backoff = Math.min(backoff * 2, 10_000);
        setTimeout(() => {
          if (!this.stopped) informer.start().catch((e: unknown) => (this.lastError = String(e)));
        }, delay);
      });
      informer.on("connect", () => {
        backoff = 500;
      });
    }
    await Promise.all([this.pods.start(), this.isvcs.start()]);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([this.pods?.stop(), this.isvcs?.stop()]);
  }

  exists(namespace: string, name: string): boolean {
    return this.isvcs?.get(name, namespace) !== undefined;
  }

  ready(namespace: string, name: string): boolean {
    if (!this.exists(namespace, name)) return false;
    return (this.pods?.list(namespace) ?? []).some((pod) => {
      const labels = pod.metadata?.labels ?? {};
      if (labels[ISVC_LABEL] !== name) return false;
      const component = labels["component"];
      if (component !== undefined && component !== "predictor") return false;
      if (pod.metadata?.deletionTimestamp) return false;
      return (pod.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");
    });
  }

  known(): string[] {
    return (this.isvcs?.list() ?? []).map((i) => `${i.metadata?.namespace}/${i.metadata?.name}`);
  }
}

/** Readiness set by hand: the fake model server of unit tests and benchmarks, no cluster. */
export class StaticReadiness implements ReadinessSource {
  readonly #ready = new Map<string, boolean>();
  set(target: string, ready: boolean): void {
    splitTarget(target);
    this.#ready.set(target, ready);
  }
  exists(namespace: string, name: string): boolean {
    return this.#ready.has(`${namespace}/${name}`);
  }
  ready(namespace: string, name: string): boolean {
    return this.#ready.get(`${namespace}/${name}`) === true;
  }
  known(): string[] {
    return [...this.#ready.keys()];
  }
}

/** How the fake OpenAI server streams: pieces of the answer and the pause between two of them. */
export type StreamOptions = { chunkDelayMs: number };

const OPENAI_PATH = /^(?:\/v1\/namespaces\/([^/]+)\/inferenceservices\/([^/:]+))?(?:\/openai)?\/v1\/(chat\/completions|completions)$/;
const PREDICTOR_HOST = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)-predictor\.([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.svc(\.|:|$)/;
/** The fake answer, one word a chunk. */
const WORDS = ["The", " model", " woke", " up", " and", " answered", " your", " request", "."];

/** Which service an OpenAI request is for: the path prefix, else the predictor's Host name. */
export function openAiTarget(
  pathname: string,
  host: string | undefined,
  forwardedHost: string | undefined,
): { target?: string; kind?: string } {
  const m = OPENAI_PATH.exec(pathname);
  if (m === null) return {};
  const kind = m[3] as string;
  if (m[1] !== undefined && m[2] !== undefined) return { target: `${decodeURIComponent(m[1])}/${decodeURIComponent(m[2])}`, kind };
  for (const h of [host, forwardedHost]) {
    const p = PREDICTOR_HOST.exec((h ?? "").toLowerCase());
    if (p !== null) return { target: `${p[3]}/${p[1]}`, kind };
  }
  return { kind };
}

type OpenAiRequest = { model?: unknown; stream?: unknown; max_tokens?: unknown; messages?: unknown; prompt?: unknown };

/** Answers one OpenAI completion request as vLLM would: whole, or streamed as server-sent events. */
export async function answerOpenAi(res: ServerResponse, kind: string, request: OpenAiRequest, stream: StreamOptions): Promise<void> {
  const chat = kind === "chat/completions";
  const model = typeof request.model === "string" ? request.model.slice(0, 200) : "model";
  const maxTokens = typeof request.max_tokens === "number" && request.max_tokens > 0 ? Math.min(request.max_tokens, 64) : WORDS.length;
  const words = Array.from({ length: maxTokens }, (_, i) => WORDS[i % WORDS.length] as string);
  const id = `${chat ? "chatcmpl" : "cmpl"}-${Math.random().toString(36).slice(2, 12)}`;
  const created = Math.floor(Date.now() / 1000);
  const usage = { prompt_tokens: 5, completion_tokens: words.length, total_tokens: 5 + words.length };
  const finish = words.length < WORDS.length || maxTokens === 64 ? "length" : "stop";
  if (request.stream !== true) {
    const text = words.join("");
    const choice = chat
      ? { index: 0, message: { role: "assistant", content: text }, finish_reason: finish, logprobs: null }
      : { index: 0, text, finish_reason: finish, logprobs: null };
    reply(res, 200, { id, object: chat ? "chat.completion" : "text_completion", created, model, choices: [choice], usage });
    return;
  }
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  res.flushHeaders();
  const event = (data: unknown) => res.write(`data: ${JSON.stringify(data)}\n\n`);
  const object = chat ? "chat.completion.chunk" : "text_completion";
  for (const [i, word] of words.entries()) {
    if (res.destroyed) return;
    const choice = chat
      ? { index: 0, delta: i === 0 ? { role: "assistant", content: word } : { content: word }, finish_reason: null, logprobs: null }
      : { index: 0, text: word, finish_reason: null, logprobs: null };
    event({ id, object, created, model, choices: [choice] });
    await new Promise((r) => setTimeout(r, stream.chunkDelayMs));
  }
  const last = chat
    ? { index: 0, delta: {}, finish_reason: finish, logprobs: null }
    : { index: 0, text: "", finish_reason: finish, logprobs: null };
  event({ id, object, created, model, choices: [last], usage });
  res.end("data: [DONE]\n\n");
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  let body = "";
  for await (const chunk of req) {
    body += String(chunk);
    if (body.length > 8 * 1024 * 1024) throw new Error("request body larger than 8 MiB");
  }
  return body.trim() === "" ? {} : (JSON.parse(body) as unknown);
}

function reply(res: ServerResponse, status: number, body: unknown, contentType = "application/json"): void {
  res.writeHead(status, { "content-type": contentType });
  res.end(typeof body === "string" ? body : JSON.stringify(body));
}

export class TrafficSimulator {
  readonly core: SimulatorCore;
  readonly stream: StreamOptions;
  private readonly server: Server;
  private timer: NodeJS.Timeout | undefined;

  constructor(readiness: ReadinessSource, stream: StreamOptions = { chunkDelayMs: 20 }) {
    this.core = new SimulatorCore(readiness);
    this.stream = stream;
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => reply(res, 400, { error: err instanceof Error ? err.message : String(err) }));
    });
  }

  async listen(port: number, host = "127.0.0.1"): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, host, () => resolve());
    });
    this.timer = setInterval(() => this.core.tick(), 100);
    const address = this.server.address();
    return `http://${host}:${typeof address === "object" && address ? address.port : port}`;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    // keep-alive connections of clients (the waker's agent) must not hold the close
    this.server.closeIdleConnections();
    await closed;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://simulator");
    const predict = /^\/v1\/namespaces\/([^/]+)\/inferenceservices\/([^/:]+):predict$/.exec(url.pathname);
    if (req.method === "GET" && url.pathname === "/healthz") return reply(res, 200, "ok\n", "text/plain");
    if (req.method === "GET" && url.pathname === "/metrics") return reply(res, 200, this.core.metrics(), "text/plain; version=0.0.4");
    if (req.method === "GET" && url.pathname === "/control/state") return reply(res, 200, { services: this.core.report() });
    if (req.method === "POST" && url.pathname === "/control/send") {
      const body = (await readJson(req)) as { target?: unknown; rps?: unknown; seconds?: unknown };
      this.core.send(String(body.target), { rps: Number(body.rps), seconds: Number(body.seconds) });
      return reply(res, 200, { ok: true });
    }
    if (req.method === "POST" && url.pathname === "/control/stop") {
      const body = (await readJson(req)) as { target?: unknown };
      this.core.stop(body.target === undefined ? undefined : String(body.target));
      return reply(res, 200, { ok: true });
    }
    if (req.method === "POST" && predict) {
      const target = `${decodeURIComponent(predict[1] ?? "")}/${decodeURIComponent(predict[2] ?? "")}`;
      return this.core.predict(target)
        ? reply(res, 200, { predictions: [1] })
        : reply(res, 503, { error: `${target} has no ready predictor` });
    }
    const openAi = req.method === "POST" ? openAiTarget(url.pathname, req.headers.host, header(req, "x-forwarded-host")) : {};
    if (openAi.kind !== undefined) {
      if (openAi.target === undefined)
        return reply(res, 404, { error: { type: "not_found", message: "no InferenceService in the path or the Host header" } });
      const body = (await readJson(req)) as OpenAiRequest;
      if (!this.core.predict(openAi.target))
        return reply(res, 503, { error: { type: "unavailable", message: `${openAi.target} has no ready predictor` } });
      return answerOpenAi(res, openAi.kind, body, this.stream);
    }
    return reply(res, 404, { error: "not found" });
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Client for a simulator running in another process (SIMULATOR_URL). */
export class SimulatorClient {
  readonly baseUrl: string;
  constructor(baseUrl: string) {
    this.baseUrl = baseUrl.replace(/\/$/, "");
  }

  private async call(method: string, path: string, body?: unknown): Promise<unknown> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? null : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`simulator ${method} ${path}: ${res.status} ${text}`);
    return JSON.parse(text) as unknown;
  }

  /** Sends `rps` requests per second to `namespace/name` for `seconds`. */
  async send(target: string, load: Load): Promise<void> {
    await this.call("POST", "/control/send", { target, ...load });
  }

  async stop(target?: string): Promise<void> {
    await this.call("POST", "/control/stop", target === undefined ? {} : { target });
  }

  async state(): Promise<ServiceReport[]> {
    return ((await this.call("GET", "/control/state")) as { services: ServiceReport[] }).services;
  }

  async service(target: string): Promise<ServiceReport | undefined> {
    return (await this.state()).find((s) => s.target === target);
  }

  /** One predict request; resolves with the HTTP status. */
  async predict(target: string): Promise<number> {
    const [ns, name] = splitTarget(target);
    const res = await fetch(
      `${this.baseUrl}/v1/namespaces/${encodeURIComponent(ns)}/inferenceservices/${encodeURIComponent(name)}:predict`,
      { method: "POST", body: "{}" },
    );
    await res.text();
    return res.status;
  }
}

/** Starts a simulator against the cluster of `kubeconfigPath`. */
export async function startSimulator(kubeconfigPath: string, port = 0): Promise<{ url: string; close(): Promise<void> }> {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  const readiness = new KubeReadiness(kc);
  await readiness.start();
  const sim = new TrafficSimulator(readiness);
  const url = await sim.listen(port);
  return {
    url,
    async close() {
      await sim.close();
      await readiness.stop();
    },
  };
}

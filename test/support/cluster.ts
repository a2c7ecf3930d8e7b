// A real local control plane for integration tests: etcd, kube-apiserver
// (client-certificate auth + RBAC, as envtest runs it), kube-controller-manager,
// kube-scheduler, kwok with fake GPU nodes, the KServe controller manager in
// Standard (RawDeployment) mode with its webhooks on loopback, the traffic
// simulator and Prometheus. Every process runs in its own process group, is
// recorded by pid in <dir>/cluster.json and is stopped by pid.
//
//   const cluster = await startCluster({ nodes: 4, gpusPerNode: 4 });
//   ... cluster.kubeconfigPath, cluster.prometheusUrl, cluster.simulatorUrl ...
//   await cluster.stop();
import { execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, readdirSync, copyFileSync, rmSync, existsSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join, dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { parseAllDocuments, parse as parseYaml } from "yaml";
import { KubeConfig, KubernetesObjectApi, type KubernetesObject } from "@kubernetes/client-node";
import { generatePki, type Pki } from "./certs.ts";
import {
  ComponentError,
  freePort,
  readState,
  startProcess,
  stopProcessGroup,
  tailFile,
  writeState,
  listeningPorts,
  processGroupMembers,
  type ClusterState,
  type Started,
} from "./processes.ts";
import { knativeCrds, knativeEnv, knativeModules, knativeSystemObjects } from "./knative.ts";

export { ComponentError } from "./processes.ts";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const buildScript = join(repoRoot, "test", "cluster", "build");
export const KSERVE_VERSION = "v0.16.0";
export const KWOK_VERSION = "v0.7.0";

export type StartClusterOptions = {
  /** Number of kwok nodes (default 4). */
  nodes?: number;
  /** `nvidia.com/gpu` capacity of each node (default 4). */
  gpusPerNode?: number;
  /** Directory for state, certificates, data and logs (default: a new temp dir). */
  dir?: string;
  /** Run test/cluster/build first (default true; it is quick when the cache is warm). */
  build?: boolean;
  /** Progress messages (default: to stderr). */
  log?: (message: string) => void;
  /** Aborts start-up: what was started is stopped and startCluster rejects. */
  signal?: AbortSignal;
  /**
   * kwok's pod stages. 'fast' (default): pods are Ready and deleted at once.
   * 'general': kwok's "general" stages read from the kwok module (1-6 s per
   * step, init containers, deletion within the grace period), with per-pod
   * overrides by annotation, e.g. pod-ready.stage.kwok.x-k8s.io/delay: "20s"
   * (KServe copies InferenceService annotations to the pods).
   */
  podStages?: "fast" | "general";
  /**
   * How KServe exposes a Standard-mode InferenceService. 'ingress' (default): a networking.k8s.io
   * Ingress `<isvc>`. 'gateway-api': the Gateway API CRDs (standard channel, read from the
   * sigs.k8s.io/gateway-api module) are installed before KServe starts, KServe's `ingress` config gets
   * `enableGatewayApi: true` and `kserveIngressGateway: "kserve/kserve-ingress-gateway"` (that Gateway
   * exists, with a GatewayClass), and KServe creates HTTPRoutes `<isvc>` and `<isvc>-predictor`. No
   * gateway proxies traffic: a stand-in (test/cluster/status-stand-in.ts gateway) only marks
   * HTTPRoutes attached to that Gateway Accepted, as a gateway controller would, so the service can
   * become Ready.
   */
  kserveIngress?: "ingress" | "gateway-api";
  /**
   * Knative Serving v0.44.0 for InferenceServices in Knative (Serverless) mode (default false):
   * its CRDs and ConfigMaps from the downloaded modules (test/support/knative.ts), created before
   * the KServe manager starts; its controller and autoscaler as processes (built by
   * test/cluster/build with everything else); and a
   * stand-in that only marks KIngresses Ready (no networking layer runs). KServe stays in Standard
   * mode by default: a service opts in with `serving.kserve.io/deploymentMode: Knative`. The
   * autoscaler's stat server binds :8080 (hard-coded in Knative), so one such plane per machine.
   */
  knative?: boolean;
};

export type Cluster = {
  dir: string;
  statePath: string;
  kubeconfigPath: string;
  apiserverUrl: string;
  prometheusUrl: string;
  simulatorUrl: string;
  /** Environment variables describing this cluster (KUBECONFIG, PROMETHEUS_URL, SIMULATOR_URL, ...). */
  env: Record<string, string>;
  /** Pids and ports of every component. */
  components: ClusterState["components"];
  /** Stops every component by pid; removes the directory unless keepDir. */
  stop(opts?: { keepDir?: boolean }): Promise<void>;
};

export const CLUSTER_ENV_FILE = "cluster.env";

function defaultLog(message: string): void {
  process.stderr.write(`[cluster ${new Date().toISOString().slice(11, 23)}] ${message}\n`);
}

type HttpsAuth = { ca?: string; cert?: string; key?: string; insecure?: boolean };

/** GET a URL; resolves with status and body, never rejects on HTTP errors. */
export function httpGet(url: string, auth: HttpsAuth = {}, timeoutMs = 3000): Promise<{ status: number; body: string }> {
  return new Promise((resolveGet, reject) => {
    const u = new URL(url);
    const options = {
      method: "GET",
      timeout: timeoutMs,
      ...(u.protocol === "https:"
        ? {
            ca: auth.ca ? readFileSync(auth.ca) : undefined,
            cert: auth.cert ? readFileSync(auth.cert) : undefined,
            key: auth.key ? readFileSync(auth.key) : undefined,
            rejectUnauthorized: !auth.insecure,
          }
        : {}),
    };
    const req = (u.protocol === "https:" ? httpsRequest : httpRequest)(u, options, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolveGet({ status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end();
  });
}

class Launcher {
  readonly state: ClusterState;
  readonly statePath: string;
  readonly started = new Map<string, Started>();
  readonly log: (message: string) => void;

  readonly signal: AbortSignal | undefined;

  constructor(dir: string, log: (message: string) => void, signal?: AbortSignal) {
    this.state = { version: 1, dir, components: [] };
    this.statePath = join(dir, "cluster.json");
    this.log = log;
    this.signal = signal;
    writeState(this.statePath, this.state);
  }

  start(name: string, command: string, args: string[], opts: { env?: NodeJS.ProcessEnv; ports?: number[] } = {}): Started {
    if (this.signal?.aborted) throw new ComponentError(name, "start-up aborted");
    if (!existsSync(command)) {
      throw new ComponentError(name, `binary ${command} is missing; run test/cluster/build`);
    }
    const logPath = join(this.state.dir, "logs", `${name}.log`);
    const started = startProcess(name, command, args, { logPath, env: opts.env, ports: opts.ports });
    this.started.set(name, started);
    this.state.components.push(started.record);
    writeState(this.statePath, this.state);
    this.log(
      `started ${name} (pid ${started.record.pid}${started.record.ports.length ? `, ports ${started.record.ports.join(",")}` : ""})`,
    );
    return started;
  }

  /** Polls `check` until it returns true; fails with the component's log tail if it exits or times out. */
  async waitFor(name: string, what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
    const started = this.started.get(name);
    const begin = Date.now();
    let lastError = "";
    while (Date.now() - begin < timeoutMs) {
      if (this.signal?.aborted) throw new ComponentError(name, `start-up aborted while waiting for ${what}`);
      const exited = started?.exited();
      if (exited !== undefined) {
        throw new ComponentError(
          name,
          `${exited} while waiting for ${what}; last lines of ${started?.record.logPath}:\n${tailFile(started?.record.logPath ?? "")}`,
        );
      }
      try {
        if (await check()) {
          this.log(`${name}: ${what} after ${((Date.now() - begin) / 1000).toFixed(1)} s`);
          return;
        }
        lastError = "";
      } catch (err) {
        lastError = err instanceof Error ? err.message : String(err);
      }
      await sleep(200);
    }
    const logTail = started ? `; last lines of ${started.record.logPath}:\n${tailFile(started.record.logPath)}` : "";
    throw new ComponentError(
      name,
      `timed out after ${timeoutMs / 1000} s waiting for ${what}${lastError ? ` (last error: ${lastError})` : ""}${logTail}`,
    );
  }
}

/** Stops every component recorded in a state, in reverse start order. */
export async function stopComponents(state: ClusterState, log: (message: string) => void = defaultLog): Promise<void> {
  const failures: string[] = [];
  for (const component of [...state.components].reverse()) {
    try {
      await stopProcessGroup(component.pid);
    } catch (err) {
      failures.push(`${component.name}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  const stillListening = listeningPorts();
  const leftPorts = state.components.flatMap((c) => c.ports.filter((p) => stillListening.has(p)).map((p) => `${c.name}:${p}`));
  const leftProcs = state.components.filter((c) => processGroupMembers(c.pid).length > 0).map((c) => `${c.name}(${c.pid})`);
  if (failures.length > 0 || leftPorts.length > 0 || leftProcs.length > 0) {
    throw new Error(
      `cluster teardown incomplete: ${[...failures, ...leftProcs.map((p) => `process ${p} alive`), ...leftPorts.map((p) => `port ${p} still listening`)].join("; ")}`,
    );
  }
  log(`stopped ${state.components.length} components`);
}

/** Stops a cluster given its directory (used by test/cluster/down). */
export async function stopClusterDir(dir: string, opts: { keepDir?: boolean; log?: (message: string) => void } = {}): Promise<void> {
  const state = readState(join(dir, "cluster.json"));
  await stopComponents(state, opts.log ?? defaultLog);
  if (!opts.keepDir) rmSync(dir, { recursive: true, force: true });
}

/**
 * The path of a binary built by test/cluster/build (helm, kustomize, ...). It never builds: the
 * runners (test/integration/run.ts, the demo, the benchmarks) run the build before any test, and a
 * missing binary here means a runner skipped it, which must fail loudly.
 */
export function pinnedBinary(name: string): string {
  const path = join(execFileSync(buildScript, ["--print-bin-dir"], { encoding: "utf8" }).trim(), name);
  if (!existsSync(path)) throw new Error(`${path} is missing: test/cluster/build builds it (the integration runner runs it first)`);
  return path;
}

function ensureBuilt(log: (message: string) => void): string {
  log("checking pinned binaries (test/cluster/build; on a new machine it compiles them first: about 15-25 minutes on 2 cores) ...");
  try {
    const out = execFileSync(buildScript, [], { stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });
    for (const line of out.split("\n")) if (/^build: (built|done)/.test(line)) log(line);
  } catch (err) {
    const out = `${(err as { stdout?: Buffer }).stdout?.toString() ?? ""}${(err as { stderr?: Buffer }).stderr?.toString() ?? ""}`;
    throw new ComponentError("build", `test/cluster/build failed:\n${out.trim()}`, { cause: err });
  }
  return execFileSync(buildScript, ["--print-bin-dir"], { encoding: "utf8" }).trim();
}

function kserveSourceDir(binDir: string): string {
  const copy = join(dirname(binDir), "src", "kserve");
  if (existsSync(join(copy, "config"))) return copy;
  const modcache = execFileSync("go", ["env", "GOMODCACHE"], { encoding: "utf8" }).trim();
  const dir = join(modcache, "github.com", "kserve", `kserve@${KSERVE_VERSION}`);
  if (!existsSync(join(dir, "config"))) {
    throw new ComponentError(
      "kserve-config",
      `cannot find KServe ${KSERVE_VERSION} sources (looked in ${copy} and ${dir}); run test/cluster/build`,
    );
  }
  return dir;
}

/** kwok --config flags for the pod stages: none for 'fast' (kwok's defaults), the module's general stages otherwise. */
function kwokStageFlags(podStages: "fast" | "general"): string[] {
  if (podStages === "fast") return [];
  const modcache = execFileSync("go", ["env", "GOMODCACHE"], { encoding: "utf8" }).trim();
  const dir = join(modcache, "sigs.k8s.io", `kwok@${KWOK_VERSION}`, "kustomize", "stage", "pod", "general");
  if (!existsSync(dir)) throw new ComponentError("kwok", `cannot find kwok's general pod stages in ${dir}`);
  return readdirSync(dir)
    .filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml")
    .map((f) => `--config=${join(dir, f)}`);
}

function yamlDocs(path: string): KubernetesObject[] {
  return parseAllDocuments(readFileSync(path, "utf8"))
    .map((doc) => doc.toJS() as KubernetesObject | null)
    .filter((obj): obj is KubernetesObject => obj !== null && typeof obj === "object" && typeof obj.kind === "string");
}

/**
 * Every CRD this repository ships, as the deployment installs them: the resources of the generated
 * deploy/crds/kustomization.yaml (ServingSchedule and ClusterServingSchedule), read as committed.
 */
export function reclaimerCrds(): KubernetesObject[] {
  const dir = join(repoRoot, "deploy", "crds");
  const kustomization = parseYaml(readFileSync(join(dir, "kustomization.yaml"), "utf8")) as { resources?: string[] };
  return (kustomization.resources ?? []).flatMap((file) => yamlDocs(join(dir, file)));
}

/**
 * The InferenceService ConfigMap of the module, set to Standard mode without Istio; with Gateway API
 * routes for `kserveIngress: "gateway-api"`, with Istio VirtualServices kept for `knative`.
 */
export function kserveConfigMap(
  kserveDir: string,
  opts: { kserveIngress?: "ingress" | "gateway-api"; knative?: boolean } = {},
): KubernetesObject & { data: Record<string, string> } {
  const [cm] = yamlDocs(join(kserveDir, "config", "configmap", "inferenceservice.yaml"));
  if (!cm) throw new ComponentError("kserve-config", "inferenceservice-config ConfigMap not found");
  const data = (cm as { data?: Record<string, string> }).data ?? {};
  data["deploy"] = JSON.stringify({ defaultDeploymentMode: "Standard" });
  const ingress = JSON.parse(data["ingress"] ?? "{}") as Record<string, unknown>;
  // With Knative, KServe writes Stopped=True only after reconciling the service's VirtualService.
  ingress["disableIstioVirtualHost"] = !opts.knative;
  if (opts.kserveIngress === "gateway-api") {
    ingress["enableGatewayApi"] = true;
    ingress["kserveIngressGateway"] = `${KSERVE_GATEWAY.namespace}/${KSERVE_GATEWAY.name}`;
  }
  data["ingress"] = JSON.stringify(ingress);
  delete data["_example"];
  return { ...cm, metadata: { name: "inferenceservice-config", namespace: "kserve" }, data };
}

/** ClusterServingRuntimes of the module, with the images kustomize would set. */
export function kserveRuntimes(kserveDir: string): KubernetesObject[] {
  const runtimesDir = join(kserveDir, "config", "runtimes");
  const kustomization = parseYaml(readFileSync(join(runtimesDir, "kustomization.yaml"), "utf8")) as {
    resources?: string[];
    images?: { name: string; newName?: string; newTag?: string }[];
  };
  const images = new Map((kustomization.images ?? []).map((i) => [i.name, `${i.newName ?? i.name}:${i.newTag ?? "latest"}`]));
  const objects = (kustomization.resources ?? []).flatMap((file) => yamlDocs(join(runtimesDir, file)));
  for (const obj of objects) {
    const spec = (obj as { spec?: { containers?: { image?: string }[] } }).spec;
    for (const c of spec?.containers ?? []) {
      const name = (c.image ?? "").split(":")[0] ?? "";
      const image = images.get(name);
      if (image) c.image = image;
    }
  }
  return objects;
}

/** KServe's webhook configurations pointing at https://127.0.0.1:<port><path>. */
export function kserveWebhooks(kserveDir: string, port: number, caBundle: string): KubernetesObject[] {
  const objects = yamlDocs(join(kserveDir, "config", "webhook", "manifests.yaml"));
  for (const obj of objects) {
    const hooks =
      (obj as { webhooks?: { clientConfig: { service?: { path?: string }; url?: string; caBundle?: string } }[] }).webhooks ?? [];
    for (const hook of hooks) {
      const path = hook.clientConfig.service?.path ?? "/";
      hook.clientConfig = { url: `https://127.0.0.1:${port}${path}`, caBundle };
    }
    delete (obj.metadata as { creationTimestamp?: unknown } | undefined)?.creationTimestamp;
  }
  return objects;
}

export const GATEWAY_API_VERSION = "v1.6.3";
/** The Gateway KServe's HTTPRoutes attach to in gateway-api mode (KServe's own default name). */
export const KSERVE_GATEWAY = { namespace: "kserve", name: "kserve-ingress-gateway", className: "kserve-reclaimer-test" } as const;
/** The controllerName of the test GatewayClass; only the status stand-in claims it. */
export const GATEWAY_STAND_IN_CONTROLLER = "reclaimer.dev/test-gateway-status-stand-in";

/**
 * The directory of the downloaded sigs.k8s.io/gateway-api module. Read from the module cache; when it
 * is not there yet, `go mod download` fetches it (a data-only module: nothing to build, so it is not
 * a component of test/cluster/build and the default start-up never pays for it).
 */
export function gatewayApiDir(): string {
  const modcache = execFileSync("go", ["env", "GOMODCACHE"], { encoding: "utf8" }).trim();
  const dir = join(modcache, "sigs.k8s.io", `gateway-api@${GATEWAY_API_VERSION}`);
  if (existsSync(join(dir, "config", "crd", "standard"))) return dir;
  try {
    const out = execFileSync("go", ["mod", "download", "-json", `sigs.k8s.io/gateway-api@${GATEWAY_API_VERSION}`], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      cwd: tmpdir(), // outside any module, so no go.mod is consulted or changed
    });
    const downloaded = (JSON.parse(out) as { Dir?: string }).Dir;
    if (downloaded && existsSync(join(downloaded, "config", "crd", "standard"))) return downloaded;
  } catch (err) {
    throw new ComponentError("gateway-api", `cannot download sigs.k8s.io/gateway-api@${GATEWAY_API_VERSION}`, { cause: err });
  }
  throw new ComponentError("gateway-api", `sigs.k8s.io/gateway-api@${GATEWAY_API_VERSION} has no config/crd/standard`);
}

/** The standard-channel CRDs KServe uses (HTTPRoute, Gateway, GatewayClass, ReferenceGrant), from the module. */
export function gatewayApiCrds(dir: string): KubernetesObject[] {
  const crdDir = join(dir, "config", "crd", "standard");
  return ["httproutes", "gateways", "gatewayclasses", "referencegrants"].flatMap((plural) =>
    yamlDocs(join(crdDir, `gateway.networking.k8s.io_${plural}.yaml`)),
  );
}

/** The GatewayClass and the Gateway named in KServe's `kserveIngressGateway`, accepting routes from every namespace. */
export function kserveGatewayObjects(): KubernetesObject[] {
  return [
    {
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "GatewayClass",
      metadata: { name: KSERVE_GATEWAY.className },
      spec: { controllerName: GATEWAY_STAND_IN_CONTROLLER },
    } as KubernetesObject,
    {
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "Gateway",
      metadata: { name: KSERVE_GATEWAY.name, namespace: KSERVE_GATEWAY.namespace },
      spec: {
        gatewayClassName: KSERVE_GATEWAY.className,
        listeners: [{ name: "http", protocol: "HTTP", port: 80, allowedRoutes: { namespaces: { from: "All" } } }],
      },
    } as KubernetesObject,
  ];
}

function kwokNode(name: string, gpus: number): KubernetesObject {
  const capacity = { cpu: "64", memory: "512Gi", pods: "110", "ephemeral-storage": "1Ti", "nvidia.com/gpu": String(gpus) };
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name,
      labels: {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "nvidia.com/gpu.present": "true",
        type: "kwok",
      },
      annotations: { "kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0" },
    },
    spec: {},
    status: { capacity, allocatable: capacity, phase: "Running" },
  } as KubernetesObject;
}

function kubeconfigYaml(server: string, pki: Pki): string {
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- name: kserve-reclaimer-test",
    "  cluster:",
    `    server: ${server}`,
    `    certificate-authority: ${pki.ca.cert}`,
    "users:",
    "- name: admin",
    "  user:",
    `    client-certificate: ${pki.admin.cert}`,
    `    client-key: ${pki.admin.key}`,
    "contexts:",
    "- name: kserve-reclaimer-test",
    "  context:",
    "    cluster: kserve-reclaimer-test",
    "    user: admin",
    "    namespace: default",
    "current-context: kserve-reclaimer-test",
    "",
  ].join("\n");
}

/** A raw JSON request to the apiserver with the admin certificate (no client-side (de)serialization). */
function kubeRaw(
  apiserverUrl: string,
  auth: HttpsAuth,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: string }> {
  return new Promise((resolveReq, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = httpsRequest(
      new URL(path, apiserverUrl),
      {
        method,
        ca: auth.ca ? readFileSync(auth.ca) : undefined,
        cert: auth.cert ? readFileSync(auth.cert) : undefined,
        key: auth.key ? readFileSync(auth.key) : undefined,
        headers: payload === undefined ? {} : { "content-type": "application/json", "content-length": Buffer.byteLength(payload) },
        timeout: 30_000,
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (text += chunk));
        res.on("end", () => resolveReq({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end(payload);
  });
}

/** The REST collection path of a manifest (plural = lower-case kind + "s", or "es" after an s: true for every kind used here). */
function collectionPath(obj: KubernetesObject): string {
  const apiVersion = obj.apiVersion ?? "v1";
  const prefix = apiVersion.includes("/") ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  const ns = obj.metadata?.namespace;
  const kind = (obj.kind ?? "").toLowerCase();
  return `${prefix}${ns ? `/namespaces/${ns}` : ""}/${kind}${kind.endsWith("s") ? "es" : "s"}`;
}

/**
 * Creates manifests as they are. Not through client-node's KubernetesObjectApi:
 * its serializer drops fields such as x-kubernetes-int-or-string from typed kinds (CRDs).
 */
async function createAll(apiserverUrl: string, auth: HttpsAuth, objects: KubernetesObject[]): Promise<void> {
  for (const obj of objects) {
    const res = await kubeRaw(apiserverUrl, auth, "POST", collectionPath(obj), obj);
    if (res.status === 201 || res.status === 200 || res.status === 409) continue;
    throw new Error(`creating ${obj.kind} ${obj.metadata?.name}: HTTP ${res.status}: ${res.body.slice(0, 800)}`);
  }
}

/** Starts the whole control plane. On any failure, stops what was started and rethrows. */
/** kube-apiserver's flags, as controller-runtime's envtest sets them (also used by test/integration/kube-plane.ts). */
export function apiserverArgs(o: { etcdPort: number; apiPort: number; dir: string; pki: Pki; apiserverUrl: string }): string[] {
  return [
    "kube-apiserver",
    `--etcd-servers=http://127.0.0.1:${o.etcdPort}`,
    `--cert-dir=${join(o.dir, "apiserver")}`,
    `--tls-cert-file=${o.pki.apiserver.cert}`,
    `--tls-private-key-file=${o.pki.apiserver.key}`,
    `--client-ca-file=${o.pki.ca.cert}`,
    `--secure-port=${o.apiPort}`,
    "--bind-address=127.0.0.1",
    "--advertise-address=127.0.0.1",
    "--service-cluster-ip-range=10.0.0.0/24",
    "--authorization-mode=RBAC",
    "--disable-admission-plugins=ServiceAccount",
    "--allow-privileged=true",
    `--service-account-issuer=${o.apiserverUrl}`,
    `--service-account-key-file=${o.pki.serviceAccount.publicKey}`,
    `--service-account-signing-key-file=${o.pki.serviceAccount.privateKey}`,
    "--v=1",
  ];
}

export async function startCluster(opts: StartClusterOptions = {}): Promise<Cluster> {
  const log = opts.log ?? defaultLog;
  // Options may come from untyped callers (the CLI): refuse a wrong value before anything starts.
  const kserveIngress = opts.kserveIngress ?? "ingress";
  if (kserveIngress !== "ingress" && kserveIngress !== "gateway-api") {
    throw new ComponentError(
      "kserve-config",
      `kserveIngress must be "ingress" or "gateway-api", got ${JSON.stringify(String(kserveIngress).slice(0, 40))}`,
    );
  }
  if (opts.knative !== undefined && typeof opts.knative !== "boolean") {
    throw new ComponentError("knative", `knative must be true or false, got ${JSON.stringify(String(opts.knative).slice(0, 40))}`);
  }
  const knative = opts.knative ?? false;
  const nodes = opts.nodes ?? 4;
  const gpusPerNode = opts.gpusPerNode ?? 4;
  const begin = Date.now();
  const binDir = opts.build === false ? execFileSync(buildScript, ["--print-bin-dir"], { encoding: "utf8" }).trim() : ensureBuilt(log);
  const prometheusBin = findOnPath("prometheus");
  if (!prometheusBin) {
    throw new ComponentError(
      "prometheus",
      "the prometheus binary is not installed; install Debian's package: apt-get update && apt-get install -y prometheus",
    );
  }
  const kserveDir = kserveSourceDir(binDir);
  if (knative) {
    if (listeningPorts().has(KNATIVE_STATS_PORT)) {
      throw new ComponentError(
        "knative-autoscaler",
        `port ${KNATIVE_STATS_PORT} is in use; Knative's autoscaler binds it (hard-coded): stop the other Knative plane first`,
      );
    }
  }

  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), "kserve-reclaimer-cluster-"));
  mkdirSync(join(dir, "logs"), { recursive: true });
  const launcher = new Launcher(dir, log, opts.signal);
  try {
    return await boot(launcher, {
      binDir,
      prometheusBin,
      kserveDir,
      nodes,
      gpusPerNode,
      begin,
      podStages: opts.podStages ?? "fast",
      kserveIngress,
      knative,
    });
  } catch (err) {
    log(`start-up failed: ${err instanceof Error ? err.message : String(err)}`);
    try {
      await stopComponents(launcher.state, log);
      if (opts.signal?.aborted && opts.dir === undefined) rmSync(dir, { recursive: true, force: true });
      else log(`logs of the failed start-up kept in ${join(dir, "logs")}`);
    } catch (stopErr) {
      log(`cleanup after failed start-up: ${stopErr instanceof Error ? stopErr.message : String(stopErr)}`);
    }
    throw err;
  }
}

function findOnPath(name: string): string | undefined {
  for (const p of (process.env["PATH"] ?? "").split(":")) {
    if (p && existsSync(join(p, name))) return join(p, name);
  }
  return undefined;
}

async function boot(
  launcher: Launcher,
  cfg: {
    binDir: string;
    prometheusBin: string;
    kserveDir: string;
    nodes: number;
    gpusPerNode: number;
    begin: number;
    podStages: "fast" | "general";
    kserveIngress: "ingress" | "gateway-api";
    knative: boolean;
  },
): Promise<Cluster> {
  const { dir } = launcher.state;
  const log = launcher.log;
  const bin = (name: string) => join(cfg.binDir, name);
  const pki = generatePki(join(dir, "pki"));
  const {
    etcdPort,
    etcdPeerPort,
    apiPort,
    kcmPort,
    schedPort,
    kwokPort,
    kserveMetricsPort,
    kserveProbePort,
    webhookPort,
    simPort,
    promPort,
  } = await uniquePorts([
    "etcdPort",
    "etcdPeerPort",
    "apiPort",
    "kcmPort",
    "schedPort",
    "kwokPort",
    "kserveMetricsPort",
    "kserveProbePort",
    "webhookPort",
    "simPort",
    "promPort",
  ] as const);
  const kubeconfigPath = join(dir, "kubeconfig");
  const apiserverUrl = `https://127.0.0.1:${apiPort}`;

  // etcd
  launcher.start(
    "etcd",
    bin("etcd"),
    [
      "--name=default",
      `--data-dir=${join(dir, "etcd")}`,
      `--listen-client-urls=http://127.0.0.1:${etcdPort}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdPort}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
      `--initial-cluster=default=http://127.0.0.1:${etcdPeerPort}`,
      "--unsafe-no-fsync",
      "--log-level=warn",
    ],
    { ports: [etcdPort, etcdPeerPort] },
  );
  await launcher.waitFor("etcd", "healthy", async () => (await httpGet(`http://127.0.0.1:${etcdPort}/health`)).body.includes('"true"'));

  launcher.start("kube-apiserver", bin("hyperkube"), apiserverArgs({ etcdPort, apiPort, dir, pki, apiserverUrl }), { ports: [apiPort] });
  const adminAuth = { ca: pki.ca.cert, cert: pki.admin.cert, key: pki.admin.key };
  await launcher.waitFor(
    "kube-apiserver",
    "ready",
    async () => (await httpGet(`${apiserverUrl}/readyz`, adminAuth)).status === 200,
    90_000,
  );
  writeFileSync(kubeconfigPath, kubeconfigYaml(apiserverUrl, pki));
  const kubeEnv = { ...process.env, KUBECONFIG: kubeconfigPath };

  // Knative's objects own each other (Service -> Configuration -> Revision -> Deployment): deleting a
  // Knative Service relies on the garbage collector, which learns kinds created after it started
  // only at its next 30 s discovery resync (a stopped service's pod lingered 20 s). So its CRDs go
  // in before kube-controller-manager starts, as in a cluster where Knative was installed earlier.
  const knativeMods = cfg.knative ? knativeModules() : undefined;
  if (knativeMods) {
    const knCrds = knativeCrds(knativeMods);
    await createAll(apiserverUrl, adminAuth, knCrds);
    const names = new Set(knCrds.map((c) => c.metadata?.name));
    await launcher.waitFor("kube-apiserver", `${knCrds.length} Knative CRDs established`, async () => {
      const res = await kubeRaw(apiserverUrl, adminAuth, "GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions");
      const items = (JSON.parse(res.body) as { items?: EstablishedCrd[] }).items ?? [];
      return items.filter((c) => names.has(c.metadata?.name) && isEstablished(c)).length === names.size;
    });
  }

  launcher.start(
    "kube-controller-manager",
    bin("hyperkube"),
    [
      "kube-controller-manager",
      `--kubeconfig=${kubeconfigPath}`,
      `--authentication-kubeconfig=${kubeconfigPath}`,
      `--authorization-kubeconfig=${kubeconfigPath}`,
      "--bind-address=127.0.0.1",
      `--secure-port=${kcmPort}`,
      `--cert-dir=${join(dir, "kube-controller-manager")}`,
      "--leader-elect=false",
      "--use-service-account-credentials=false",
      `--service-account-private-key-file=${pki.serviceAccount.privateKey}`,
      `--root-ca-file=${pki.ca.cert}`,
      "--cluster-name=kserve-reclaimer-test",
      "--v=1",
    ],
    { ports: [kcmPort] },
  );
  launcher.start(
    "kube-scheduler",
    bin("hyperkube"),
    [
      "kube-scheduler",
      `--kubeconfig=${kubeconfigPath}`,
      `--authentication-kubeconfig=${kubeconfigPath}`,
      `--authorization-kubeconfig=${kubeconfigPath}`,
      "--bind-address=127.0.0.1",
      `--secure-port=${schedPort}`,
      `--cert-dir=${join(dir, "kube-scheduler")}`,
      "--leader-elect=false",
      "--v=1",
    ],
    { ports: [schedPort] },
  );
  launcher.start(
    "kwok",
    bin("kwok"),
    [
      `--kubeconfig=${kubeconfigPath}`,
      "--manage-all-nodes=true",
      `--server-address=127.0.0.1:${kwokPort}`,
      "--cidr=10.244.0.0/16",
      "--node-ip=127.0.0.1",
      // Heartbeats through node Leases: without them kwok refreshes node status only about once a
      // minute, the node lifecycle controller's 50 s grace period runs out, and it marks every pod
      // NotReady for a moment (Ready flaps on the InferenceServices, idle timers restart).
      "--node-lease-duration-seconds=40",
      ...kwokStageFlags(cfg.podStages),
    ],
    { env: { ...kubeEnv, HOME: join(dir, "kwok-home") }, ports: [kwokPort] },
  );
  launcher.start("simulator", process.execPath, [join(repoRoot, "test", "support", "simulator-main.ts"), `--port=${simPort}`], {
    env: kubeEnv,
    ports: [simPort],
  });
  const promConfig = join(dir, "prometheus.yml");
  writeFileSync(
    promConfig,
    [
      "global:",
      "  scrape_interval: 1s",
      "  evaluation_interval: 1s",
      "scrape_configs:",
      "  - job_name: simulator",
      "    static_configs:",
      `      - targets: ["127.0.0.1:${simPort}"]`,
      "",
    ].join("\n"),
  );
  launcher.start(
    "prometheus",
    cfg.prometheusBin,
    [
      `--config.file=${promConfig}`,
      `--storage.tsdb.path=${join(dir, "prometheus")}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
      "--storage.tsdb.retention.time=1d",
      "--log.level=warn",
    ],
    { ports: [promPort] },
  );

  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  const client = KubernetesObjectApi.makeApiClient(kc);

  // Fake GPU nodes, managed by kwok.
  const nodeNames = Array.from({ length: cfg.nodes }, (_, i) => `kwok-gpu-${i}`);
  await createAll(
    apiserverUrl,
    adminAuth,
    nodeNames.map((n) => kwokNode(n, cfg.gpusPerNode)),
  );

  // KServe CRDs, namespace and ConfigMap.
  const crdDir = join(cfg.kserveDir, "config", "crd", "full");
  const kserveCrds = readdirSync(crdDir)
    .filter((f) => f.startsWith("serving.kserve.io_") && f.endsWith(".yaml"))
    .flatMap((f) => yamlDocs(join(crdDir, f)));
  // And this repository's own CRDs (ServingSchedule, ClusterServingSchedule), so `kserve-reclaimer run`
  // works against `up` as it is, without a warning about a missing kind.
  // KServe's manager decides at start-up which kinds it watches: the Gateway API CRDs go in first.
  const extraCrds = cfg.kserveIngress === "gateway-api" ? gatewayApiCrds(gatewayApiDir()) : [];
  const ownCrds = reclaimerCrds();
  const crds = [...kserveCrds, ...ownCrds, ...extraCrds];
  await createAll(apiserverUrl, adminAuth, crds);
  const crdsWhat = `${kserveCrds.length} KServe CRDs, ${ownCrds.map((c) => c.metadata?.name).join(" and ")}${extraCrds.length ? ` and ${extraCrds.length} Gateway API CRDs` : ""}`;
  await launcher.waitFor("kube-apiserver", `${crdsWhat} established`, async () => {
    const list = await client.list<KubernetesObject & { status?: { conditions?: { type: string; status: string }[] } }>(
      "apiextensions.k8s.io/v1",
      "CustomResourceDefinition",
    );
    // By name: Knative's CRDs, created earlier, must not count for these.
    const names = new Set(crds.map((c) => c.metadata?.name));
    return list.items.filter((c) => names.has(c.metadata?.name) && isEstablished(c)).length >= names.size;
  });
  await createAll(apiserverUrl, adminAuth, [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: "kserve" } },
    kserveConfigMap(cfg.kserveDir, { kserveIngress: cfg.kserveIngress, knative: cfg.knative }),
    ...(cfg.kserveIngress === "gateway-api" ? kserveGatewayObjects() : []),
    ...(knativeMods ? knativeSystemObjects(knativeMods) : []),
  ]);

  // KServe controller manager; controller-runtime reads webhook certs from $TMPDIR/k8s-webhook-server/serving-certs.
  const kserveTmp = join(dir, "kserve-tmp");
  const certDir = join(kserveTmp, "k8s-webhook-server", "serving-certs");
  mkdirSync(certDir, { recursive: true });
  copyFileSync(pki.webhook.cert, join(certDir, "tls.crt"));
  copyFileSync(pki.webhook.key, join(certDir, "tls.key"));
  launcher.start(
    "kserve-manager",
    bin("kserve-manager"),
    [
      `--metrics-addr=127.0.0.1:${kserveMetricsPort}`,
      `--health-probe-addr=127.0.0.1:${kserveProbePort}`,
      `--webhook-port=${webhookPort}`,
      "--leader-elect=false",
    ],
    { env: { ...kubeEnv, POD_NAMESPACE: "kserve", TMPDIR: kserveTmp }, ports: [kserveMetricsPort, kserveProbePort, webhookPort] },
  );

  if (cfg.kserveIngress === "gateway-api") startStatusStandIn(launcher, "gateway", kubeEnv);
  const knativeChecks: Promise<void>[] = [];
  if (cfg.knative) {
    const taken = new Set(launcher.state.components.flatMap((c) => c.ports));
    const { controllerProfiling, autoscalerProfiling } = await uniquePorts(["controllerProfiling", "autoscalerProfiling"] as const, taken);
    launcher.start("knative-controller", bin("knative-controller"), [`--kubeconfig=${kubeconfigPath}`], {
      env: { ...kubeEnv, ...knativeEnv("controller", controllerProfiling) },
      ports: [controllerProfiling],
    });
    launcher.start("knative-autoscaler", bin("knative-autoscaler"), [`--kubeconfig=${kubeconfigPath}`], {
      env: { ...kubeEnv, ...knativeEnv("autoscaler", autoscalerProfiling) },
      ports: [autoscalerProfiling, KNATIVE_STATS_PORT],
    });
    startStatusStandIn(launcher, "knative-ingress", kubeEnv);
    const logOf = (name: string) => readFileSync(launcher.started.get(name)?.record.logPath ?? "", "utf8");
    knativeChecks.push(
      launcher.waitFor(
        "knative-controller",
        "controllers started",
        async () => logOf("knative-controller").includes("Starting controllers"),
        90_000,
      ),
      launcher.waitFor("knative-autoscaler", "stat server listening", async () => listeningPorts().has(KNATIVE_STATS_PORT), 90_000),
    );
  }

  await Promise.all([
    ...knativeChecks,
    ...[...launcher.started.keys()]
      .filter((name) => name.endsWith("-status-stand-in"))
      .map((name) =>
        launcher.waitFor(name, "polling", async () =>
          readFileSync(launcher.started.get(name)?.record.logPath ?? "", "utf8").includes("marking"),
        ),
      ),
    launcher.waitFor(
      "kube-controller-manager",
      "healthy",
      async () => (await httpGet(`https://127.0.0.1:${kcmPort}/healthz`, { insecure: true })).status === 200,
    ),
    launcher.waitFor(
      "kube-scheduler",
      "healthy",
      async () => (await httpGet(`https://127.0.0.1:${schedPort}/healthz`, { insecure: true })).status === 200,
    ),
    launcher.waitFor("simulator", "ready", async () => (await httpGet(`http://127.0.0.1:${simPort}/healthz`)).status === 200),
    launcher.waitFor("prometheus", "ready", async () => (await httpGet(`http://127.0.0.1:${promPort}/-/ready`)).status === 200),
    launcher.waitFor(
      "kserve-manager",
      "ready",
      async () => (await httpGet(`http://127.0.0.1:${kserveProbePort}/readyz`)).status === 200,
      90_000,
    ),
  ]);

  const caBundle = readFileSync(pki.ca.cert).toString("base64");
  await createAll(apiserverUrl, adminAuth, kserveWebhooks(cfg.kserveDir, webhookPort, caBundle));
  await createAll(apiserverUrl, adminAuth, kserveRuntimes(cfg.kserveDir));

  await launcher.waitFor(
    "kwok",
    `${cfg.nodes} nodes Ready and untainted`,
    async () => {
      const list = await client.list<
        KubernetesObject & { spec?: { taints?: unknown[] }; status?: { conditions?: { type: string; status: string }[] } }
      >("v1", "Node");
      const ready = list.items.filter(
        (n) => n.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") && (n.spec?.taints ?? []).length === 0,
      );
      return ready.length >= cfg.nodes;
    },
    90_000,
  );
  await launcher.waitFor("kube-controller-manager", "default service account", async () => {
    const sa = await client.list("v1", "ServiceAccount", "default");
    return sa.items.some((s) => s.metadata?.name === "default");
  });

  const prometheusUrl = `http://127.0.0.1:${promPort}`;
  const simulatorUrl = `http://127.0.0.1:${simPort}`;
  const env = {
    KUBECONFIG: kubeconfigPath,
    KUBE_APISERVER_URL: apiserverUrl,
    PROMETHEUS_URL: prometheusUrl,
    SIMULATOR_URL: simulatorUrl,
    CLUSTER_DIR: dir,
    CLUSTER_GPU_NODES: String(cfg.nodes),
    CLUSTER_GPUS_PER_NODE: String(cfg.gpusPerNode),
    KSERVE_NAMESPACE: "kserve",
    CLUSTER_POD_STAGES: cfg.podStages,
    // Only for the non-default set-ups, so a default cluster's environment is as it always was.
    ...(cfg.kserveIngress === "gateway-api" ? { CLUSTER_KSERVE_INGRESS: cfg.kserveIngress } : {}),
    ...(cfg.knative ? { CLUSTER_KNATIVE: "true" } : {}),
  };
  writeFileSync(
    join(dir, CLUSTER_ENV_FILE),
    `${Object.entries(env)
      .map(([k, v]) => `export ${k}=${v}`)
      .join("\n")}\n`,
  );
  log(`cluster ready in ${((Date.now() - cfg.begin) / 1000).toFixed(1)} s (dir ${dir})`);
  return {
    dir,
    statePath: launcher.statePath,
    kubeconfigPath,
    apiserverUrl,
    prometheusUrl,
    simulatorUrl,
    env,
    components: launcher.state.components,
    async stop(stopOpts = {}) {
      await stopComponents(launcher.state, log);
      if (!stopOpts.keepDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Starts test/cluster/status-stand-in.ts: it writes only the status a gateway controller ("gateway")
 * or Knative's networking layer ("knative-ingress") would write, since neither runs here.
 */
function startStatusStandIn(launcher: Launcher, kind: "gateway" | "knative-ingress", kubeEnv: NodeJS.ProcessEnv): void {
  launcher.start(`${kind}-status-stand-in`, process.execPath, [join(repoRoot, "test", "cluster", "status-stand-in.ts"), kind], {
    env: {
      ...kubeEnv,
      GATEWAY_NAMESPACE: KSERVE_GATEWAY.namespace,
      GATEWAY_NAME: KSERVE_GATEWAY.name,
      GATEWAY_CONTROLLER: GATEWAY_STAND_IN_CONTROLLER,
    },
  });
}

/** Knative's autoscaler stat server address, a constant in its main. */
const KNATIVE_STATS_PORT = 8080;

type EstablishedCrd = { metadata?: { name?: string }; status?: { conditions?: { type: string; status: string }[] } };
const isEstablished = (crd: EstablishedCrd) =>
  crd.status?.conditions?.some((x) => x.type === "Established" && x.status === "True") ?? false;

async function uniquePorts<K extends string>(names: readonly K[], taken = new Set<number>()): Promise<Record<K, number>> {
  const ports = {} as Record<K, number>;
  for (const name of names) {
    let port = await freePort();
    while (taken.has(port)) port = await freePort();
    taken.add(port);
    ports[name] = port;
  }
  return ports;
}

/** The cluster a test runner started, from the environment; throws (never skips) when absent. */
export function clusterFromEnv(): { kubeconfigPath: string; prometheusUrl: string; simulatorUrl: string; dir: string } {
  const missing = ["KUBECONFIG", "PROMETHEUS_URL", "SIMULATOR_URL", "CLUSTER_DIR"].filter((k) => !process.env[k]);
  if (missing.length > 0) {
    throw new Error(`integration tests need a running cluster (missing ${missing.join(", ")}); run them with: npm run test:integration`);
  }
  return {
    kubeconfigPath: process.env["KUBECONFIG"] ?? "",
    prometheusUrl: process.env["PROMETHEUS_URL"] ?? "",
    simulatorUrl: process.env["SIMULATOR_URL"] ?? "",
    dir: process.env["CLUSTER_DIR"] ?? "",
  };
}

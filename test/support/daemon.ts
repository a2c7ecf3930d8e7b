// Runs the real daemon entrypoint (`node src/cli/main.ts run ...`) as a child process for
// integration tests, reads its JSON log lines, and makes sure it never outlives the test process.
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, appendFileSync } from "node:fs";
import { request as httpsRequest, type RequestOptions } from "node:https";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { KubeConfig, KubernetesObjectApi, PatchStrategy, type KubernetesObject } from "@kubernetes/client-node";
import { parse } from "yaml";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const MAIN = `${ROOT}src/cli/main.ts`;
const CRD = `${ROOT}deploy/crds/reclaimer.dev_servingschedules.yaml`;
const CLUSTER_CRD = `${ROOT}deploy/crds/reclaimer.dev_clusterservingschedules.yaml`;

export type LogLine = { time: string; level: string; msg: string; [k: string]: unknown };

const running = new Set<ChildProcess>();
process.on("exit", () => {
  for (const p of running) p.kill("SIGKILL");
});

export class DaemonProcess {
  readonly proc: ChildProcess;
  readonly logs: LogLine[] = [];
  readonly name: string;
  #stderr = "";
  #exited: Promise<number | null>;
  port: number | undefined;

  constructor(name: string, args: string[], env: NodeJS.ProcessEnv = {}) {
    this.name = name;
    this.proc = spawn(process.execPath, [MAIN, "run", "--metrics-addr", "127.0.0.1:0", ...args], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "ignore", "pipe"],
    });
    running.add(this.proc);
    this.#exited = new Promise((resolve) =>
      this.proc.on("exit", (code) => {
        running.delete(this.proc);
        resolve(code);
      }),
    );
    this.proc.stderr?.setEncoding("utf8");
    // Kept next to the cluster's component logs (KEEP_CLUSTER_DIR=1 keeps them after the run).
    const logFile = process.env["CLUSTER_DIR"] ? `${process.env["CLUSTER_DIR"]}/logs/${name}.log` : undefined;
    this.proc.stderr?.on("data", (chunk: string) => {
      if (logFile) appendFileSync(logFile, chunk);
      this.#stderr += chunk;
      let i: number;
      while ((i = this.#stderr.indexOf("\n")) >= 0) {
        const line = this.#stderr.slice(0, i);
        this.#stderr = this.#stderr.slice(i + 1);
        try {
          const entry = JSON.parse(line) as LogLine;
          this.logs.push(entry);
          if (entry.msg === "serving /metrics /healthz /readyz") this.port = entry["port"] as number;
        } catch {
          this.logs.push({ time: "", level: "raw", msg: line });
        }
      }
    });
  }

  /** Resolves with the first log line matching, or fails after timeoutMs with the daemon's tail. */
  async waitForLog(pred: (l: LogLine) => boolean, what: string, timeoutMs = 30_000, from = 0): Promise<LogLine> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const hit = this.logs.slice(from).find(pred);
      if (hit) return hit;
      if (this.proc.exitCode !== null) break;
      await sleep(100);
    }
    throw new Error(`${this.name}: no log line "${what}" within ${timeoutMs} ms; exit ${this.proc.exitCode}; last lines:\n${this.tail()}`);
  }

  async ready(timeoutMs = 30_000): Promise<void> {
    await this.waitForLog((l) => l.msg === "caches synced", "caches synced", timeoutMs);
  }

  tail(n = 15): string {
    return this.logs
      .slice(-n)
      .map((l) => JSON.stringify(l))
      .join("\n");
  }

  async metrics(): Promise<string> {
    const res = await fetch(`http://127.0.0.1:${this.port}/metrics`);
    return res.text();
  }

  /** SIGTERM (graceful: drains and releases the lease) or SIGKILL (a crash). Resolves with the exit code. */
  async stop(signal: "SIGTERM" | "SIGKILL" = "SIGTERM"): Promise<number | null> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill(signal);
    return this.#exited;
  }
}

/** Sum of a counter/gauge in a Prometheus text exposition, over series matching all labels given. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const m = /^([^{\s]+)(?:\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[3]);
  }
  return sum;
}

export function kube(kubeconfigPath: string): { kc: KubeConfig; objects: KubernetesObjectApi } {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  return { kc, objects: KubernetesObjectApi.makeApiClient(kc) };
}

/**
 * Installs the ServingSchedule CRD (or with `which` "cluster" the ClusterServingSchedule CRD) from
 * deploy/crds (server-side apply) and waits until it is established.
 */
export async function installCrd(kc: KubeConfig, which: "namespaced" | "cluster" = "namespaced"): Promise<void> {
  const crd = parse(readFileSync(which === "cluster" ? CLUSTER_CRD : CRD, "utf8")) as KubernetesObject;
  const path = `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata?.name}`;
  const applied = await rawRequest(kc, "PATCH", `${path}?fieldManager=kserve-reclaimer-tests&force=true`, crd);
  if (applied.status !== 200 && applied.status !== 201)
    throw new Error(`applying ${crd.metadata?.name}: HTTP ${applied.status}: ${applied.body.slice(0, 800)}`);
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const got = JSON.parse((await rawRequest(kc, "GET", path)).body) as { status?: { conditions?: { type: string; status: string }[] } };
    if (got.status?.conditions?.some((c) => c.type === "Established" && c.status === "True")) return;
    await sleep(200);
  }
  throw new Error(`${crd.metadata?.name} CRD not established within 30 s`);
}

/**
 * One request to the apiserver with the object sent as it is (a PATCH is a server-side apply). Not
 * through KubernetesObjectApi: its serializer knows CRDs as a typed kind and drops the fields it
 * spells otherwise (`enum`, `default`, `x-kubernetes-validations`, ...), so an applied CRD lost its
 * enums, defaults and CEL rules.
 */
async function rawRequest(
  kc: KubeConfig,
  method: "GET" | "PATCH",
  path: string,
  body?: unknown,
): Promise<{ status: number; body: string }> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const options: RequestOptions = {
    method,
    timeout: 30_000,
    headers: payload === undefined ? {} : { "content-type": "application/apply-patch+yaml", "content-length": Buffer.byteLength(payload) },
  };
  await kc.applyToHTTPSOptions(options);
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new Error("the kubeconfig has no current cluster");
  return new Promise((resolve, reject) => {
    const req = httpsRequest(new URL(path, server), options, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (text += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on("timeout", () => req.destroy(new Error(`${method} ${path}: timeout`)));
    req.on("error", reject);
    req.end(payload);
  });
}

export async function apply(objects: KubernetesObjectApi, obj: KubernetesObject): Promise<void> {
  await objects.patch(obj, undefined, undefined, "kserve-reclaimer-tests", true, PatchStrategy.ServerSideApply);
}

export async function createNamespace(objects: KubernetesObjectApi, name: string): Promise<void> {
  await apply(objects, { apiVersion: "v1", kind: "Namespace", metadata: { name } });
}

export { gpuInferenceService as gpuService } from "./kube.ts";

export function schedule(namespace: string, name: string, spec: Record<string, unknown>): KubernetesObject {
  return { apiVersion: "reclaimer.dev/v1alpha1", kind: "ServingSchedule", metadata: { name, namespace }, spec } as KubernetesObject;
}

/** "HH:MM" in UTC of an instant. */
export function hhmm(ms: number): string {
  return new Date(ms).toISOString().slice(11, 16);
}

/** "YYYY-MM-DDTHH:MM" in UTC of an instant (exception bounds in a UTC schedule). */
export function localMinute(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16);
}

/** The next whole minute at least `leadMs` from now: a schedule boundary a few seconds ahead. */
export function nextBoundary(leadMs = 15_000): number {
  const now = Date.now();
  let b = Math.ceil(now / 60_000) * 60_000;
  while (b - now < leadMs) b += 60_000;
  return b;
}

export async function sleepUntil(ms: number): Promise<void> {
  const wait = ms - Date.now();
  if (wait > 0) await sleep(wait);
}

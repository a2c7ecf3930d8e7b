// The control plane for the Kubernetes adapter tests (test/integration/kube-*.test.ts): the real
// etcd and kube-apiserver from the pinned cache (test/cluster/build), with KServe's real
// InferenceService CRD and our ServingSchedule CRD. Not the whole cluster of test/support/cluster.ts:
// these tests need no controllers, and they restart the apiserver, which must not disturb others.
// One plane per test file, started in before() and stopped by pid in after().
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { request as httpsRequest } from "node:https";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { parseAllDocuments } from "yaml";
import { KubeConfig, KubernetesObjectApi, type KubernetesObject } from "@kubernetes/client-node";
import { generatePki, type Pki } from "../support/certs.ts";
import { freePort, startProcess, stopProcessGroup, tailFile, type Started } from "../support/processes.ts";
import { apiserverArgs, httpGet } from "../support/cluster.ts";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

export type KubePlane = {
  dir: string;
  kubeconfigPath: string;
  apiserverUrl: string;
  kubeConfig(): KubeConfig;
  objects: KubernetesObjectApi;
  /** Stops the kube-apiserver (SIGTERM, by pid). etcd keeps the data. */
  stopApiserver(): Promise<void>;
  startApiserver(): Promise<void>;
  stop(): Promise<void>;
};

function binDir(): string {
  if (process.env["KUBE_PLANE_BIN_DIR"]) return process.env["KUBE_PLANE_BIN_DIR"];
  return execFileSync(join(repoRoot, "test", "cluster", "build"), ["--print-bin-dir"], { encoding: "utf8" }).trim();
}

function kserveCrdPath(): string {
  const modcache = execFileSync("go", ["env", "GOMODCACHE"], { encoding: "utf8" }).trim();
  return join(modcache, "github.com", "kserve", "kserve@v0.16.0", "config", "crd", "full", "serving.kserve.io_inferenceservices.yaml");
}

async function waitFor(what: string, started: Started, check: () => Promise<boolean>, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const exited = started.exited();
    if (exited) throw new Error(`${started.record.name} ${exited} while waiting for ${what}:\n${tailFile(started.record.logPath)}`);
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    await sleep(150);
  }
  throw new Error(`timed out waiting for ${what}:\n${tailFile(started.record.logPath)}`);
}

/** A raw HTTPS request as admin (client-node's typed serializer drops x-kubernetes-* schema keys). */
export function rawRequest(
  apiserverUrl: string,
  pki: { ca: string; cert: string; key: string },
  method: string,
  path: string,
  body?: unknown,
  contentType = "application/json",
): Promise<{ status: number; body: string }> {
  return new Promise((resolvePromise, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = httpsRequest(
      `${apiserverUrl}${path}`,
      {
        method,
        ca: readFileSync(pki.ca),
        cert: readFileSync(pki.cert),
        key: readFileSync(pki.key),
        headers: data === undefined ? {} : { "content-type": contentType, "content-length": Buffer.byteLength(data) },
        timeout: 30_000,
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (text += c));
        res.on("end", () => resolvePromise({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on("error", reject);
    req.on("timeout", () => req.destroy(new Error("timeout")));
    if (data !== undefined) req.write(data);
    req.end();
  });
}

function kubeconfigYaml(server: string, pki: Pki): string {
  return `apiVersion: v1
kind: Config
clusters:
- name: plane
  cluster:
    server: ${server}
    certificate-authority: ${pki.ca.cert}
users:
- name: admin
  user:
    client-certificate: ${pki.admin.cert}
    client-key: ${pki.admin.key}
contexts:
- name: plane
  context: {cluster: plane, user: admin, namespace: default}
current-context: plane
`;
}

export async function startKubePlane(opts: { log?: (m: string) => void } = {}): Promise<KubePlane> {
  const log = opts.log ?? ((m: string) => process.stderr.write(`[kube-plane] ${m}\n`));
  const bins = binDir();
  for (const b of ["etcd", "hyperkube"]) {
    if (!existsSync(join(bins, b))) throw new Error(`${join(bins, b)} missing: run test/cluster/build`);
  }
  const dir = mkdtempSync(join(tmpdir(), "kserve-reclaimer-kube-"));
  mkdirSync(join(dir, "logs"));
  const pki = generatePki(join(dir, "pki"));
  const [etcdPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
  const begin = Date.now();
  const etcd = startProcess(
    "etcd",
    join(bins, "etcd"),
    [
      "--name=default",
      `--data-dir=${join(dir, "etcd")}`,
      `--listen-client-urls=http://127.0.0.1:${etcdPort}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdPort}`,
      `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-cluster=default=http://127.0.0.1:${peerPort}`,
      "--unsafe-no-fsync",
      "--log-level=warn",
    ],
    { logPath: join(dir, "logs", "etcd.log"), ports: [etcdPort, peerPort] },
  );
  await waitFor("etcd health", etcd, async () => (await httpGet(`http://127.0.0.1:${etcdPort}/health`)).body.includes('"true"'));
  const apiserverUrl = `https://127.0.0.1:${apiPort}`;
  const adminAuth = { ca: pki.ca.cert, cert: pki.admin.cert, key: pki.admin.key };
  let apiserver: Started | undefined;
  const startApiserver = async () => {
    apiserver = startProcess("kube-apiserver", join(bins, "hyperkube"), apiserverArgs({ etcdPort, apiPort, dir, pki, apiserverUrl }), {
      logPath: join(dir, "logs", "kube-apiserver.log"),
      ports: [apiPort],
    });
    const a = apiserver;
    await waitFor("kube-apiserver readyz", a, async () => (await httpGet(`${apiserverUrl}/readyz`, adminAuth)).status === 200);
  };
  const stopAll = async () => {
    if (apiserver) await stopProcessGroup(apiserver.record.pid).catch(() => undefined);
    await stopProcessGroup(etcd.record.pid).catch(() => undefined);
  };
  try {
    await startApiserver();
    const kubeconfigPath = join(dir, "kubeconfig");
    writeFileSync(kubeconfigPath, kubeconfigYaml(apiserverUrl, pki));
    const kubeConfig = () => {
      const kc = new KubeConfig();
      kc.loadFromFile(kubeconfigPath);
      return kc;
    };
    const objects = KubernetesObjectApi.makeApiClient(kubeConfig());
    // CRDs: KServe's real InferenceService CRD (server-side apply: it is ~1 MB) and ours.
    const crds: KubernetesObject[] = [kserveCrdPath(), join(repoRoot, "deploy", "crds", "reclaimer.dev_servingschedules.yaml")].flatMap(
      (p) =>
        parseAllDocuments(readFileSync(p, "utf8"))
          .map((d) => d.toJS() as KubernetesObject)
          .filter((o) => o?.kind === "CustomResourceDefinition"),
    );
    for (const crd of crds) {
      const res = await rawRequest(
        apiserverUrl,
        adminAuth,
        "PATCH",
        `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata?.name}?fieldManager=kube-plane&force=true`,
        crd,
        "application/apply-patch+yaml",
      );
      if (res.status >= 300) throw new Error(`applying CRD ${crd.metadata?.name}: ${res.status} ${res.body.slice(0, 2000)}`);
    }
    for (const crd of crds) {
      await waitFor(`CRD ${crd.metadata?.name} established`, apiserver as Started, async () => {
        const got = (await objects.read({
          apiVersion: "apiextensions.k8s.io/v1",
          kind: "CustomResourceDefinition",
          metadata: { name: crd.metadata?.name ?? "" },
        })) as {
          status?: { conditions?: { type: string; status: string }[] };
        };
        return got.status?.conditions?.some((c) => c.type === "Established" && c.status === "True") ?? false;
      });
    }
    // The CRDs' resources must be served (discovery) before clients use them.
    await waitFor(
      "inferenceservices served",
      apiserver as Started,
      async () => (await httpGet(`${apiserverUrl}/apis/serving.kserve.io/v1beta1/inferenceservices?limit=1`, adminAuth)).status === 200,
    );
    await waitFor(
      "servingschedules served",
      apiserver as Started,
      async () => (await httpGet(`${apiserverUrl}/apis/reclaimer.dev/v1alpha1/servingschedules?limit=1`, adminAuth)).status === 200,
    );
    log(`etcd + kube-apiserver + CRDs ready in ${((Date.now() - begin) / 1000).toFixed(1)} s (${dir})`);
    return {
      dir,
      kubeconfigPath,
      apiserverUrl,
      kubeConfig,
      objects,
      stopApiserver: async () => {
        if (apiserver) await stopProcessGroup(apiserver.record.pid);
        apiserver = undefined;
      },
      startApiserver,
      stop: async () => {
        await stopAll();
        if (process.env["KEEP_CLUSTER_DIR"] !== "1") rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

export async function createNamespace(objects: KubernetesObjectApi, name: string): Promise<void> {
  await objects.create({ apiVersion: "v1", kind: "Namespace", metadata: { name } });
}

export { gpuInferenceService as isvcManifest } from "../support/kube.ts";

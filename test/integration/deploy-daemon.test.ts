// The daemon's entrypoint running with exactly the rights deploy/ grants: the kustomize base is
// applied to the real apiserver, the daemon runs as its ServiceAccount (a TokenRequest token), and
// does its whole job: leader election on its Lease, stop at a boundary, Events, schedule status,
// the admission webhook's self-managed CA (its Secret, the caBundle of deploy/'s
// ValidatingWebhookConfiguration), without a single refused request.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import type { KubernetesObject } from "@kubernetes/client-node";
import { clusterFromEnv, pinnedBinary } from "../support/cluster.ts";
import { eventually, readOrUndefined, condition } from "../support/kube.ts";
import { kubeconfigForServiceAccount } from "../support/serviceAccount.ts";
import { DaemonProcess, kube, apply, createNamespace, gpuService, schedule, hhmm, nextBoundary, metricValue } from "../support/daemon.ts";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const cluster = clusterFromEnv();
const { objects } = kube(cluster.kubeconfigPath);
const NS = `sa-${Date.now().toString(36).slice(-5)}`;
let daemon: DaemonProcess | undefined;

function kustomizeBase(): KubernetesObject[] {
  const text = execFileSync(pinnedBinary("kustomize"), ["build", join(repoRoot, "deploy")], { encoding: "utf8", maxBuffer: 64 << 20 });
  return parseAllDocuments(text)
    .map((d) => d.toJS() as KubernetesObject)
    .filter((o) => o !== null);
}

before(async () => {
  // Everything but the Deployment itself: here the daemon runs as a local process with the SA's token.
  const manifests = kustomizeBase().filter((o) => o.kind !== "Deployment");
  const rank = (o: KubernetesObject) => (o.kind === "CustomResourceDefinition" ? 0 : o.kind === "Namespace" ? 1 : 2);
  for (const o of manifests.sort((a, b) => rank(a) - rank(b))) await apply(objects, o);
  await eventually("CRD established", async () => {
    const crd = await readOrUndefined<KubernetesObject & { status?: { conditions?: { type: string; status: string }[] } }>(objects, {
      apiVersion: "apiextensions.k8s.io/v1",
      kind: "CustomResourceDefinition",
      metadata: { name: "servingschedules.reclaimer.dev" },
    });
    return crd?.status?.conditions?.some((c) => c.type === "Established" && c.status === "True");
  });
});

after(async () => {
  await daemon?.stop("SIGTERM");
  // deploy/'s webhook configuration points at a Service with no pods, which this plane cannot reach
  // (no kube-proxy): left behind, every later ServingSchedule write of the suite would wait out its timeout.
  await objects
    .delete({
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingWebhookConfiguration",
      metadata: { name: "kserve-reclaimer" },
    })
    .catch(() => undefined);
});

test("the daemon does its job with exactly the rights of the deployed ServiceAccount", { timeout: 180_000 }, async () => {
  const sa = await kubeconfigForServiceAccount(cluster.kubeconfigPath, "kserve-reclaimer", "kserve-reclaimer");
  await createNamespace(objects, NS);
  await apply(objects, gpuService(NS, "llama"));
  await eventually(
    "llama Ready",
    async () => {
      const i = await readOrUndefined<KubernetesObject & { status?: { conditions?: { type: string; status: string }[] } }>(objects, {
        apiVersion: "serving.kserve.io/v1beta1",
        kind: "InferenceService",
        metadata: { name: "llama", namespace: NS },
      });
      return condition(i, "Ready")?.status === "True";
    },
    { timeoutMs: 90_000 },
  );
  const boundary = nextBoundary(25_000);
  await apply(objects, schedule(NS, "office-hours", { uptime: [{ days: "*", from: hhmm(boundary - 10 * 60_000), to: hhmm(boundary) }] }));

  // The flags the Deployment passes: leader election on the Lease its Role allows.
  daemon = new DaemonProcess("daemon-sa", [
    "--kubeconfig",
    sa.path,
    "--leader-elect",
    "--leader-election-namespace",
    "kserve-reclaimer",
    "--leader-election-id",
    "kserve-reclaimer",
    "--identity",
    "sa-test",
    // the webhook as the Deployment starts it (self-managed CA), on a free local port; the Service of
    // deploy/ has no pods here, and the configuration's failurePolicy Ignore lets applies through
    "--webhook-addr",
    "127.0.0.1:0",
    "--webhook-self-managed-ca",
  ]);
  await daemon.ready();
  await daemon.waitForLog((l) => l.msg === "leading: reconciling", "leading", 30_000);

  // The daemon watches every namespace, as deployed; other test files' services may be acted on too.
  await daemon.waitForLog(
    (l) => l.msg === "stop applied" && l["service"] === `${NS}/llama`,
    "stop applied",
    boundary - Date.now() + 15_000,
  );
  const isvc = await readOrUndefined<KubernetesObject>(objects, {
    apiVersion: "serving.kserve.io/v1beta1",
    kind: "InferenceService",
    metadata: { name: "llama", namespace: NS },
  });
  assert.equal(isvc?.metadata?.annotations?.["serving.kserve.io/stop"], "true");
  const status = await eventually("schedule status written by the SA", async () => {
    const s = await readOrUndefined<KubernetesObject & { status?: { stopped?: number; conditions?: unknown[] } }>(objects, {
      apiVersion: "reclaimer.dev/v1alpha1",
      kind: "ServingSchedule",
      metadata: { name: "office-hours", namespace: NS },
    });
    return s?.status?.stopped === 1 ? s : undefined;
  });
  assert.ok(status.status?.conditions?.length);
  // the schedule's Event for the transition, written once the boundary's burst is over
  await eventually("Events created with the SA rights", async () =>
    (await objects.list<KubernetesObject & { reason: string }>("v1", "Event", NS)).items.some((e) => e.reason === "Stopped"),
  );
  const lease = await readOrUndefined<KubernetesObject & { spec?: { holderIdentity?: string } }>(objects, {
    apiVersion: "coordination.k8s.io/v1",
    kind: "Lease",
    metadata: { name: "kserve-reclaimer", namespace: "kserve-reclaimer" },
  });
  assert.equal(lease?.spec?.holderIdentity, "sa-test");

  // the webhook's CA and certificate in the one Secret its Role allows, the CA in deploy/'s configuration
  const secret = await eventually("the webhook Secret written by the SA", async () => {
    const s = await readOrUndefined<KubernetesObject & { data?: Record<string, string> }>(objects, {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "kserve-reclaimer-webhook-tls", namespace: "kserve-reclaimer" },
    });
    return s?.data?.["ca.crt"] ? s : undefined;
  });
  assert.deepEqual(Object.keys(secret.data ?? {}).sort(), ["ca.crt", "ca.key", "tls.crt", "tls.key"]);
  await eventually("the caBundle written by the SA", async () => {
    const v = await readOrUndefined<KubernetesObject & { webhooks: { clientConfig: { caBundle?: string } }[] }>(objects, {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingWebhookConfiguration",
      metadata: { name: "kserve-reclaimer" },
    });
    return v?.webhooks.every((w) => w.clientConfig.caBundle === secret.data?.["ca.crt"]) ? true : undefined;
  });

  const text = await daemon.metrics();
  assert.equal(metricValue(text, "kserve_reclaimer_kubernetes_api_errors_total"), 0, "no request was refused");
  assert.ok(!daemon.logs.some((l) => /forbidden/i.test(JSON.stringify(l))), `no forbidden in the daemon's logs:\n${daemon.tail()}`);
});

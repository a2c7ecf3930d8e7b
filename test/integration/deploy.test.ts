// The install artifacts against the real local kube-apiserver: deploy/ rendered by kustomize and
// the Helm chart rendered by `helm template` are applied with server-side apply, first with
// dryRun=All and then for real, side by side (namespaces kserve-reclaimer and
// kserve-reclaimer-helm); then the installed ServiceAccounts are checked to have exactly the
// rights the manifests promise: no Secrets, no deleting InferenceServices.
// helm and kustomize are built from their Go modules by test/cluster/build, which the runner runs first.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import { AuthorizationV1Api, CoreV1Api, CustomObjectsApi, KubeConfig, PatchStrategy, type KubernetesObject } from "@kubernetes/client-node";
import { clusterFromEnv, pinnedBinary } from "../support/cluster.ts";
import { eventually, kubeClient } from "../support/kube.ts";
import { kubeconfigForServiceAccount } from "../support/serviceAccount.ts";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const FIELD_MANAGER = "kserve-reclaimer-deploy-test";
const HELM_RELEASE = "kserve-reclaimer-helm";
const HELM_NAMESPACE = "kserve-reclaimer-helm";
const HELM_WATCHED = ["helm-team-a", "helm-team-b"];
const KUSTOMIZE_WATCHED = ["ml-team-a", "ml-team-b"];

const cluster = clusterFromEnv();
const { kc, objects } = kubeClient(cluster.kubeconfigPath);
const created: KubernetesObject[] = [];

function parse(text: string): KubernetesObject[] {
  return parseAllDocuments(text)
    .map((d) => {
      if (d.errors.length > 0) throw new Error(d.errors.map((e) => e.message).join("; "));
      return d.toJS() as KubernetesObject | null;
    })
    .filter((o): o is KubernetesObject => o !== null && o !== undefined);
}

function kustomize(dir: string): KubernetesObject[] {
  return parse(execFileSync(pinnedBinary("kustomize"), ["build", join(repoRoot, dir)], { encoding: "utf8", maxBuffer: 64 << 20 }));
}

function helmTemplate(args: string[]): KubernetesObject[] {
  return parse(
    execFileSync(
      pinnedBinary("helm"),
      [
        "template",
        HELM_RELEASE,
        join(repoRoot, "deploy", "helm", "kserve-reclaimer"),
        "--namespace",
        HELM_NAMESPACE,
        "--include-crds",
        ...args,
      ],
      {
        encoding: "utf8",
        maxBuffer: 64 << 20,
      },
    ),
  );
}

/** CRDs and Namespaces first, as kubectl and helm order them. */
function ordered(list: KubernetesObject[]): KubernetesObject[] {
  const rank = (o: KubernetesObject) => (o.kind === "CustomResourceDefinition" ? 0 : o.kind === "Namespace" ? 1 : 2);
  return [...list].sort((a, b) => rank(a) - rank(b));
}

async function apply(list: KubernetesObject[], dryRun: boolean): Promise<void> {
  for (const o of ordered(list)) {
    try {
      await objects.patch(o, undefined, dryRun ? "All" : undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
    } catch (err) {
      throw new Error(
        `${dryRun ? "dry-run " : ""}apply of ${o.kind} ${o.metadata?.namespace ?? ""}/${o.metadata?.name}: ${(err as { body?: unknown }).body ? JSON.stringify((err as { body?: unknown }).body) : String(err)}`,
      );
    }
    if (
      !dryRun &&
      !created.some((c) => c.kind === o.kind && c.metadata?.name === o.metadata?.name && c.metadata?.namespace === o.metadata?.namespace)
    )
      created.push(o);
  }
}

async function exists(o: KubernetesObject): Promise<boolean> {
  try {
    await objects.read(o as never);
    return true;
  } catch (err) {
    if ((err as { code?: number }).code === 404) return false;
    throw err;
  }
}

const namespace = (name: string): KubernetesObject => ({ apiVersion: "v1", kind: "Namespace", metadata: { name } });

/** Stand-ins for the Prometheus operator's CRDs (schema-less): enough for the API server to accept the kinds. */
const monitoringCrds: KubernetesObject[] = [
  ["servicemonitors", "ServiceMonitor"],
  ["prometheusrules", "PrometheusRule"],
].map(([plural, kind]) => ({
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: `${plural}.monitoring.coreos.com` },
  spec: {
    group: "monitoring.coreos.com",
    scope: "Namespaced",
    names: { plural, kind, singular: kind?.toLowerCase(), listKind: `${kind}List` },
    versions: [
      {
        name: "v1",
        served: true,
        storage: true,
        schema: {
          openAPIV3Schema: { type: "object", properties: { spec: { type: "object", "x-kubernetes-preserve-unknown-fields": true } } },
        },
      },
    ],
  },
})) as KubernetesObject[];

async function waitForCrds(names: string[]): Promise<void> {
  for (const name of names) {
    await eventually(`CRD ${name} established`, async () => {
      const crd = (await objects.read({
        apiVersion: "apiextensions.k8s.io/v1",
        kind: "CustomResourceDefinition",
        metadata: { name },
      } as never)) as { status?: { conditions?: { type: string; status: string }[] } };
      return crd.status?.conditions?.some((c) => c.type === "Established" && c.status === "True");
    });
  }
}

after(async () => {
  // everything this file created except the ServingSchedule CRD, which other tests share
  for (const o of [...created].reverse()) {
    if (o.kind === "CustomResourceDefinition" && o.metadata?.name === "servingschedules.reclaimer.dev") continue;
    if (o.metadata?.namespace && created.some((c) => c.kind === "Namespace" && c.metadata?.name === o.metadata?.namespace)) continue;
    try {
      await objects.delete(o, undefined, undefined, 0);
    } catch {
      // already gone
    }
  }
});

test("kustomize: deploy/ applies with server-side dry-run, then for real, and every object exists", { timeout: 180_000 }, async () => {
  const list = kustomize("deploy");
  const ns = list.find((o) => o.kind === "Namespace");
  assert.ok(ns);
  // a dry run cannot create the namespace the rest goes into: it is the one object applied first
  await apply([ns], false);
  await apply(list, true);
  const deployment = list.find((o) => o.kind === "Deployment");
  assert.ok(deployment && !(await exists(deployment)), "the dry run created nothing");
  await apply(list, false);
  for (const o of list) assert.ok(await exists(o), `${o.kind} ${o.metadata?.namespace ?? ""}/${o.metadata?.name} exists`);
  await waitForCrds(["servingschedules.reclaimer.dev"]);
});

test("kustomize: the namespaced and prometheus-operator overlays apply with server-side dry-run", { timeout: 120_000 }, async () => {
  await apply(KUSTOMIZE_WATCHED.map(namespace), false);
  await apply(kustomize("deploy/overlays/namespaced"), true);
  await apply(monitoringCrds, false);
  await waitForCrds(monitoringCrds.map((c) => c.metadata?.name ?? ""));
  const withMonitoring = kustomize("deploy/overlays/prometheus-operator");
  assert.deepEqual(
    withMonitoring
      .filter((o) => o.apiVersion === "monitoring.coreos.com/v1")
      .map((o) => o.kind)
      .sort(),
    ["PrometheusRule", "ServiceMonitor"],
  );
  await apply(withMonitoring, true);
});

test("helm: the chart (per-namespace RBAC, ServiceMonitor, PrometheusRule) applies with dry-run, then for real, beside the kustomize install", {
  timeout: 180_000,
}, async () => {
  const list = helmTemplate([
    "--set",
    `namespaces={${HELM_WATCHED.join(",")}}`,
    "--set",
    "serviceMonitor.enabled=true",
    "--set",
    "prometheusRule.enabled=true",
    "--set",
    "prometheus.url=http://prometheus.monitoring.svc:9090",
  ]);
  assert.ok(
    list.some((o) => o.kind === "CustomResourceDefinition"),
    "the chart ships the CRD",
  );
  assert.ok(!list.some((o) => o.kind === "ClusterRole" || o.kind === "ClusterRoleBinding"), "no cluster-wide RBAC with namespaces set");
  await apply([HELM_NAMESPACE, ...HELM_WATCHED].map(namespace), false); // helm install --create-namespace; watched namespaces exist
  await apply(list, true);
  await apply(list, false);
  for (const o of list) assert.ok(await exists(o), `${o.kind} ${o.metadata?.namespace ?? ""}/${o.metadata?.name} exists`);
  const roles = list
    .filter((o) => o.kind === "Role" && o.metadata?.name === HELM_RELEASE)
    .map((o) => o.metadata?.namespace)
    .sort();
  assert.deepEqual(roles, HELM_WATCHED);
});

test("helm: the default (cluster-wide) chart renders the same RBAC rules and alerts as deploy/", () => {
  const chart = helmTemplate(["--set", "serviceMonitor.enabled=true", "--set", "prometheusRule.enabled=true"]);
  const fromKustomize = kustomize("deploy/overlays/prometheus-operator");
  const pick = (l: KubernetesObject[], kind: string) =>
    l.find((o) => o.kind === kind) as KubernetesObject & { rules?: unknown; spec?: unknown };
  assert.deepEqual(pick(chart, "ClusterRole").rules, pick(fromKustomize, "ClusterRole").rules);
  const chartRule: unknown = JSON.parse(
    JSON.stringify(pick(chart, "PrometheusRule").spec).replaceAll(`${HELM_RELEASE}-metrics`, "kserve-reclaimer-metrics"),
  );
  assert.deepEqual(chartRule, pick(fromKustomize, "PrometheusRule").spec);
  type Pod = {
    spec: {
      template: { spec: { securityContext: unknown; containers: { securityContext: unknown; resources: unknown; ports: unknown }[] } };
    };
  };
  const [a, b] = [pick(chart, "Deployment") as unknown as Pod, pick(fromKustomize, "Deployment") as unknown as Pod];
  assert.deepEqual(a.spec.template.spec.securityContext, b.spec.template.spec.securityContext);
  for (const k of ["securityContext", "resources", "ports"] as const)
    assert.deepEqual(a.spec.template.spec.containers[0]?.[k], b.spec.template.spec.containers[0]?.[k], k);
});

test("the Deployments are scheduled: two replicas each, on different nodes", { timeout: 120_000 }, async () => {
  for (const [ns, name] of [
    ["kserve-reclaimer", "kserve-reclaimer"],
    [HELM_NAMESPACE, HELM_RELEASE],
  ] as const) {
    await eventually(
      `${ns}/${name} has 2 pods on 2 nodes`,
      async () => {
        const pods = await kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: ns });
        const nodes = new Set(pods.items.map((p) => p.spec?.nodeName).filter((n) => n));
        return pods.items.length === 2 && nodes.size === 2;
      },
      { timeoutMs: 60_000 },
    );
  }
});

type Access = { verb: string; group: string; resource: string; namespace?: string; name?: string; subresource?: string };

async function allowed(k: KubeConfig, a: Access): Promise<boolean> {
  const review = await k.makeApiClient(AuthorizationV1Api).createSelfSubjectAccessReview({
    body: { apiVersion: "authorization.k8s.io/v1", kind: "SelfSubjectAccessReview", spec: { resourceAttributes: a } },
  });
  return review.status?.allowed === true;
}

const asFile = (path: string) => {
  const k = new KubeConfig();
  k.loadFromFile(path);
  return k;
};

test("the kustomize install's ServiceAccount: exactly the daemon's rights, no Secrets, no deleting InferenceServices", {
  timeout: 60_000,
}, async () => {
  const sa = await kubeconfigForServiceAccount(cluster.kubeconfigPath, "kserve-reclaimer", "kserve-reclaimer");
  assert.equal(sa.username, "system:serviceaccount:kserve-reclaimer:kserve-reclaimer");
  const k = asFile(sa.path);
  const isvc = { group: "serving.kserve.io", resource: "inferenceservices", namespace: "ml-team-a" };
  const expectations: [Access, boolean][] = [
    [{ verb: "list", ...isvc }, true],
    [{ verb: "watch", ...isvc, namespace: "" }, true],
    [{ verb: "get", ...isvc, name: "llama" }, true],
    [{ verb: "patch", ...isvc, name: "llama" }, true],
    [{ verb: "update", ...isvc, name: "llama" }, false],
    [{ verb: "delete", ...isvc, name: "llama" }, false],
    [{ verb: "create", ...isvc }, false],
    [{ verb: "list", group: "reclaimer.dev", resource: "servingschedules", namespace: "" }, true],
    [
      { verb: "patch", group: "reclaimer.dev", resource: "servingschedules", subresource: "status", namespace: "ml-team-a", name: "s" },
      true,
    ],
    [{ verb: "patch", group: "reclaimer.dev", resource: "servingschedules", namespace: "ml-team-a", name: "s" }, false],
    [{ verb: "delete", group: "reclaimer.dev", resource: "servingschedules", namespace: "ml-team-a", name: "s" }, false],
    [{ verb: "create", group: "", resource: "events", namespace: "ml-team-a" }, true],
    [{ verb: "patch", group: "", resource: "events", namespace: "ml-team-a", name: "e" }, true],
    [{ verb: "delete", group: "", resource: "events", namespace: "ml-team-a", name: "e" }, false],
    [{ verb: "get", group: "", resource: "secrets", namespace: "kserve-reclaimer", name: "x" }, false],
    [{ verb: "list", group: "", resource: "secrets", namespace: "" }, false],
    [{ verb: "list", group: "", resource: "pods", namespace: "" }, false],
    [{ verb: "create", group: "coordination.k8s.io", resource: "leases", namespace: "kserve-reclaimer" }, true],
    [{ verb: "update", group: "coordination.k8s.io", resource: "leases", namespace: "kserve-reclaimer", name: "kserve-reclaimer" }, true],
    [{ verb: "update", group: "coordination.k8s.io", resource: "leases", namespace: "kserve-reclaimer", name: "other" }, false],
    [{ verb: "create", group: "coordination.k8s.io", resource: "leases", namespace: "ml-team-a" }, false],
  ];
  const wrong: string[] = [];
  for (const [a, expected] of expectations)
    if ((await allowed(k, a)) !== expected)
      wrong.push(
        `${a.verb} ${a.group}/${a.resource}${a.subresource ? `/${a.subresource}` : ""} in "${a.namespace ?? ""}": expected ${expected ? "allowed" : "denied"}`,
      );
  assert.deepEqual(wrong, []);

  // real calls, not only reviews: listing Secrets and deleting an InferenceService are refused
  const forbidden = async (what: string, call: () => Promise<unknown>) => {
    await assert.rejects(call, (err: { code?: number }) => err.code === 403, `${what} is forbidden`);
  };
  await forbidden("listing Secrets", () => k.makeApiClient(CoreV1Api).listSecretForAllNamespaces());
  await forbidden("reading a Secret", () => k.makeApiClient(CoreV1Api).listNamespacedSecret({ namespace: "kserve-reclaimer" }));
  // authorization comes before the lookup: 403, whether or not the InferenceService exists
  await forbidden("deleting an InferenceService", () =>
    k.makeApiClient(CustomObjectsApi).deleteNamespacedCustomObject({
      group: "serving.kserve.io",
      version: "v1beta1",
      plural: "inferenceservices",
      namespace: "ml-team-a",
      name: "llama",
    }),
  );
  // and what it may do works for real
  // (retried: a CRD just applied answers 429 "storage is (re)initializing" for a moment)
  for (const [group, version, plural] of [
    ["serving.kserve.io", "v1beta1", "inferenceservices"],
    ["reclaimer.dev", "v1alpha1", "servingschedules"],
  ] as const) {
    await eventually(
      `list ${plural} as the ServiceAccount`,
      async () => {
        await k.makeApiClient(CustomObjectsApi).listClusterCustomObject({ group, version, plural });
        return true;
      },
      { timeoutMs: 20_000 },
    );
  }
});

test("the Helm install's ServiceAccount (namespaces set): rights in the watched namespaces only", { timeout: 60_000 }, async () => {
  const sa = await kubeconfigForServiceAccount(cluster.kubeconfigPath, HELM_NAMESPACE, HELM_RELEASE);
  const k = asFile(sa.path);
  for (const ns of HELM_WATCHED)
    assert.equal(
      await allowed(k, { verb: "patch", group: "serving.kserve.io", resource: "inferenceservices", namespace: ns, name: "x" }),
      true,
      ns,
    );
  assert.equal(
    await allowed(k, { verb: "list", group: "serving.kserve.io", resource: "inferenceservices", namespace: "" }),
    false,
    "not cluster-wide",
  );
  assert.equal(
    await allowed(k, { verb: "list", group: "serving.kserve.io", resource: "inferenceservices", namespace: "ml-team-a" }),
    false,
    "not in namespaces it does not watch",
  );
  assert.equal(
    await allowed(k, { verb: "update", group: "coordination.k8s.io", resource: "leases", namespace: HELM_NAMESPACE, name: HELM_RELEASE }),
    true,
    "its Lease",
  );
  await assert.rejects(
    () => k.makeApiClient(CoreV1Api).listNamespacedSecret({ namespace: HELM_WATCHED[0] as string }),
    (err: { code?: number }) => err.code === 403,
  );
  await assert.rejects(
    () =>
      k.makeApiClient(CustomObjectsApi).deleteNamespacedCustomObject({
        group: "serving.kserve.io",
        version: "v1beta1",
        plural: "inferenceservices",
        namespace: HELM_WATCHED[0] as string,
        name: "llama",
      }),
    (err: { code?: number }) => err.code === 403,
  );
  await k.makeApiClient(CustomObjectsApi).listNamespacedCustomObject({
    group: "serving.kserve.io",
    version: "v1beta1",
    plural: "inferenceservices",
    namespace: HELM_WATCHED[1] as string,
  });
});

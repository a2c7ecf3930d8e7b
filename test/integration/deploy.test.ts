// The install artifacts against the real local kube-apiserver: deploy/ rendered by kustomize and
// the Helm chart rendered by `helm template` are applied with server-side apply, first with
// dryRun=All and then for real, side by side (namespaces kserve-reclaimer and
// kserve-reclaimer-helm); then the installed ServiceAccounts are checked to have exactly the
// rights the manifests promise: no Secrets, no deleting InferenceServices.
// helm and kustomize are built from their Go modules by test/cluster/build, which the runner runs first.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import {
  AuthorizationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  VersionApi,
  type KubernetesObject,
} from "@kubernetes/client-node";
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
// `helm install` takes the Kubernetes version from the API server; `helm template` needs to be told
// (else it assumes the binary's default, which the chart's kubeVersion refuses)
const KUBE_VERSION = (await kc.makeApiClient(VersionApi).getCode()).gitVersion;
const CHART = join(repoRoot, "deploy", "helm", "kserve-reclaimer");
const PUBLISHED_IMAGE = "ghcr.io/kserve-reclaimer/kserve-reclaimer";

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
      ["template", HELM_RELEASE, CHART, "--namespace", HELM_NAMESPACE, "--include-crds", "--kube-version", KUBE_VERSION, ...args],
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
/** The ClusterRoles for people (aggregated into admin/edit/view), not the daemon's. */
const isUserRole = (o: KubernetesObject) =>
  o.kind === "ClusterRole" && Object.keys(o.metadata?.labels ?? {}).some((k) => k.startsWith("rbac.authorization.k8s.io/aggregate-to-"));
/** The RBAC of the admission webhook's self-managed certificate (its own Secret and configuration only). */
const isWebhookRbac = (o: KubernetesObject) =>
  /^(Cluster)?Role(Binding)?$/.test(o.kind ?? "") && (o.metadata?.name ?? "").endsWith("-webhook");
type Workload = { spec: { template: { spec: { containers: { image: string }[] } } } };
const imageOf = (list: KubernetesObject[]) =>
  (list.find((o) => o.kind === "Deployment") as unknown as Workload | undefined)?.spec.template.spec.containers[0]?.image;

/** Schema-less stand-ins for another project's CRDs: enough for the API server to accept the kinds. */
const standInCrds = (group: string, kinds: [plural: string, kind: string][]): KubernetesObject[] =>
  kinds.map(([plural, kind]) => ({
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${plural}.${group}` },
    spec: {
      group,
      scope: "Namespaced",
      names: { plural, kind, singular: kind.toLowerCase(), listKind: `${kind}List` },
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

/** The Prometheus operator's kinds, for the monitoring component and chart values. */
const monitoringCrds = standInCrds("monitoring.coreos.com", [
  ["servicemonitors", "ServiceMonitor"],
  ["prometheusrules", "PrometheusRule"],
]);

/** cert-manager's kinds, for the cert-manager overlay and chart values. */
const certManagerCrds = standInCrds("cert-manager.io", [
  ["issuers", "Issuer"],
  ["certificates", "Certificate"],
]);

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
  // the webhook's certificate from cert-manager: the self-managed RBAC is gone, the Secret mounted
  await apply(certManagerCrds, false);
  await waitForCrds(certManagerCrds.map((c) => c.metadata?.name ?? ""));
  const withCertManager = kustomize("deploy/overlays/cert-manager");
  assert.deepEqual(withCertManager.filter(isWebhookRbac), [], "no Secret or webhook-configuration rights with cert-manager");
  assert.deepEqual(
    withCertManager
      .filter((o) => o.apiVersion === "cert-manager.io/v1")
      .map((o) => o.kind)
      .sort(),
    ["Certificate", "Issuer"],
  );
  await apply(withCertManager, true);
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
  assert.ok(
    !list.some((o) => ((o.kind === "ClusterRole" && !isUserRole(o)) || o.kind === "ClusterRoleBinding") && !isWebhookRbac(o)),
    "no cluster-wide RBAC for the daemon with namespaces set (but the webhook's, for its own configuration)",
  );
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
    l.find((o) => o.kind === kind && !isUserRole(o) && !isWebhookRbac(o)) as KubernetesObject & { rules?: unknown; spec?: unknown };
  assert.deepEqual(pick(chart, "ClusterRole").rules, pick(fromKustomize, "ClusterRole").rules);
  // the admission webhook: the same webhook and the same RBAC, up to the release's names
  const releaseNames = (o: unknown) =>
    JSON.parse(
      JSON.stringify(o)
        .replaceAll(`${HELM_RELEASE}-webhook-tls`, "kserve-reclaimer-webhook-tls")
        .replaceAll(`${HELM_RELEASE}-webhook`, "kserve-reclaimer-webhook")
        .replaceAll(`"${HELM_RELEASE}"`, '"kserve-reclaimer"')
        .replaceAll(`"${HELM_NAMESPACE}"`, '"kserve-reclaimer"'),
    ) as unknown;
  const webhooks = (l: KubernetesObject[]) =>
    (l.find((o) => o.kind === "ValidatingWebhookConfiguration") as KubernetesObject & { webhooks: unknown })?.webhooks;
  assert.deepEqual(releaseNames(webhooks(chart)), webhooks(fromKustomize));
  const webhookRules = (l: KubernetesObject[]) =>
    l
      .filter((o) => isWebhookRbac(o) && o.kind?.endsWith("Role"))
      .map((o) => [o.kind, (o as KubernetesObject & { rules: unknown }).rules])
      .sort((a, b) => String(a[0]).localeCompare(String(b[0])));
  assert.deepEqual(releaseNames(webhookRules(chart)), webhookRules(fromKustomize));
  // cert-manager instead of the self-managed CA: as deploy/overlays/cert-manager; off: nothing of the webhook
  const withCertManager = helmTemplate(["--set", "webhook.certManager.enabled=true"]);
  assert.deepEqual(withCertManager.filter(isWebhookRbac), []);
  const args = (l: KubernetesObject[]) =>
    (l.find((o) => o.kind === "Deployment") as unknown as { spec: { template: { spec: { containers: { args: string[] }[] } } } }).spec
      .template.spec.containers[0]?.args ?? [];
  assert.ok(args(withCertManager).includes("--webhook-cert-dir=/certs") && !args(withCertManager).includes("--webhook-self-managed-ca"));
  assert.deepEqual(
    withCertManager
      .filter((o) => o.apiVersion === "cert-manager.io/v1")
      .map((o) => o.kind)
      .sort(),
    ["Certificate", "Issuer"],
  );
  assert.equal(
    withCertManager.find((o) => o.kind === "ValidatingWebhookConfiguration")?.metadata?.annotations?.["cert-manager.io/inject-ca-from"],
    `${HELM_NAMESPACE}/${HELM_RELEASE}-webhook`,
  );
  const off = helmTemplate(["--set", "webhook.enabled=false"]);
  assert.deepEqual(
    off.filter((o) => o.kind === "ValidatingWebhookConfiguration" || isWebhookRbac(o) || /webhook/.test(o.metadata?.name ?? "")),
    [],
  );
  assert.ok(!args(off).some((a) => a.startsWith("--webhook-")));
  // the people's roles: same rules, same aggregation labels, by role
  const userRoles = (l: KubernetesObject[], prefix: string) =>
    Object.fromEntries(
      l.filter(isUserRole).map((o) => [
        o.metadata?.name?.slice(prefix.length),
        {
          rules: (o as KubernetesObject & { rules: unknown }).rules,
          aggregate: Object.entries(o.metadata?.labels ?? {}).filter(([k]) => k.startsWith("rbac.authorization.k8s.io/")),
        },
      ]),
    );
  // (a release whose name contains the chart's name is the full name: no "-kserve-reclaimer" suffix)
  const withWake = userRoles(helmTemplate(["--set", "userRoles.inferenceServices=true"]), HELM_RELEASE);
  const kustomizeWithWake = {
    ...userRoles(fromKustomize, "kserve-reclaimer"),
    ...userRoles(kustomize("deploy/components/edit-inferenceservices"), "kserve-reclaimer"),
  };
  assert.deepEqual(Object.keys(withWake).sort(), ["-edit", "-edit-inferenceservices", "-view"]);
  assert.deepEqual(withWake, kustomizeWithWake);
  assert.deepEqual(helmTemplate(["--set", "userRoles.enabled=false"]).filter(isUserRole), [], "userRoles.enabled=false renders none");
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

test("kustomize: `kustomize edit set image` with the published name changes the image in an overlay and in deploy/base", () => {
  const tmp = mkdtempSync(join(tmpdir(), "reclaimer-image-"));
  try {
    const set = (dir: string) =>
      execFileSync(
        pinnedBinary("kustomize"),
        ["edit", "set", "image", `${PUBLISHED_IMAGE}=registry.example.com/mirror/kserve-reclaimer:9.9.9`],
        {
          cwd: dir,
        },
      );
    // an overlay of deploy/ and of an overlay, as a user's repository has them (kustomize wants relative paths)
    for (const base of ["deploy", "deploy/overlays/prometheus-operator"]) {
      const overlay = join(tmp, base.replaceAll("/", "-"));
      mkdirSync(overlay);
      writeFileSync(join(overlay, "kustomization.yaml"), `resources:\n  - ${relative(overlay, join(repoRoot, base))}\n`);
      assert.equal(
        imageOf(parse(execFileSync(pinnedBinary("kustomize"), ["build", overlay], { encoding: "utf8" }))),
        `${PUBLISHED_IMAGE}:0.1.0`,
      );
      set(overlay);
      assert.equal(
        imageOf(parse(execFileSync(pinnedBinary("kustomize"), ["build", overlay], { encoding: "utf8" }))),
        "registry.example.com/mirror/kserve-reclaimer:9.9.9",
        base,
      );
    }
    // in a clone: the same command in deploy/base
    cpSync(join(repoRoot, "deploy"), join(tmp, "clone"), { recursive: true });
    set(join(tmp, "clone", "base"));
    assert.equal(
      imageOf(parse(execFileSync(pinnedBinary("kustomize"), ["build", join(tmp, "clone")], { encoding: "utf8", maxBuffer: 64 << 20 }))),
      "registry.example.com/mirror/kserve-reclaimer:9.9.9",
    );
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test("helm: the image is overridden with image.repository and image.tag", () => {
  assert.equal(imageOf(helmTemplate([])), `${PUBLISHED_IMAGE}:0.1.0`);
  assert.equal(
    imageOf(helmTemplate(["--set", "image.repository=registry.example.com/kserve-reclaimer", "--set-string", "image.tag=1.10"])),
    "registry.example.com/kserve-reclaimer:1.10",
  );
});

test("helm: values.schema.json and kubeVersion refuse mistakes before anything is rendered", () => {
  const helm = (args: string[]) =>
    spawnSync(pinnedBinary("helm"), ["template", "r", CHART, "--kube-version", KUBE_VERSION, ...args], { encoding: "utf8" });
  const refused: [string[], RegExp][] = [
    [["--set", "prometheus.ulr=http://x"], /additional properties 'ulr' not allowed/],
    [["--set", "image.tag=110"], /\/image\/tag.*want string/],
    [["--set", "logLevel=verbose"], /\/logLevel/],
    [["--set", "idleInterval=15 seconds"], /\/idleInterval/],
    [["--set", "prometheus.url=prometheus:9090"], /\/prometheus\/url/],
    [["--set", "networkPolicy.enabled=true", "--set-json", "networkPolicy.dnsPorts=[]"], /\/networkPolicy\/dnsPorts.*minItems/],
  ];
  for (const [args, message] of refused) {
    const r = helm(args);
    assert.notEqual(r.status, 0, args.join(" "));
    assert.match(r.stderr, message, args.join(" "));
  }
  // the template refuses a port-less rule even when the schema check is skipped
  const skipped = helm([
    "--skip-schema-validation",
    "--set",
    "networkPolicy.enabled=true",
    "--set-json",
    "networkPolicy.apiServer.ports=[]",
  ]);
  assert.notEqual(skipped.status, 0);
  assert.match(skipped.stderr, /a rule without ports allows every port/);
  const old = spawnSync(pinnedBinary("helm"), ["template", "r", CHART, "--kube-version", "v1.27.16"], { encoding: "utf8" });
  assert.notEqual(old.status, 0);
  assert.match(old.stderr, /chart requires kubeVersion: >=1\.28\.0-0 which is incompatible with Kubernetes v1\.27\.16/);
});

test("helm: NetworkPolicy, Grafana dashboard, people's roles and extraObjects render as documented and pass server-side dry-run", {
  timeout: 60_000,
}, async () => {
  // a values file as a user writes one (--set cannot hold a multi-line template string)
  const tmp = mkdtempSync(join(tmpdir(), "reclaimer-values-"));
  const valuesFile = join(tmp, "values.yaml");
  writeFileSync(
    valuesFile,
    `prometheus:
  url: https://thanos-querier.openshift-monitoring.svc:9091
networkPolicy:
  enabled: true
  metricsFrom: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: monitoring}}}]
  apiServer: {cidrs: [10.0.0.1/32]}
grafanaDashboard: {enabled: true, namespace: ${HELM_NAMESPACE}}
userRoles: {inferenceServices: true}
extraObjects:
  - apiVersion: v1
    kind: ConfigMap
    metadata: {name: literal}
    data: {alert: "{{ $labels.x }}"}
  - |
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: {{ .Release.Name }}-templated
    data:
      url: {{ .Values.prometheus.url | quote }}
`,
  );
  let list: KubernetesObject[];
  try {
    list = helmTemplate(["-f", valuesFile]);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  type Port = { port: number | string; protocol: string };
  type Policy = {
    spec: {
      policyTypes: string[];
      ingress: { ports: Port[]; from?: unknown[] }[];
      egress: { ports: Port[]; to?: unknown[] }[];
    };
  };
  const np = list.find((o) => o.kind === "NetworkPolicy") as unknown as Policy;
  assert.deepEqual(np.spec.policyTypes, ["Ingress", "Egress"]);
  assert.deepEqual(np.spec.ingress, [
    {
      ports: [{ port: "metrics", protocol: "TCP" }],
      from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } }],
    },
    // the waker asks the daemon to start services on the same port: its pods only
    {
      ports: [{ port: "metrics", protocol: "TCP" }],
      from: [
        {
          podSelector: {
            matchLabels: {
              "app.kubernetes.io/name": "kserve-reclaimer",
              "app.kubernetes.io/instance": HELM_RELEASE,
              "app.kubernetes.io/component": "waker",
            },
          },
        },
      ],
    },
    // the admission webhook from anywhere: the API server's source address is not knowable in general
    { ports: [{ port: "webhook", protocol: "TCP" }] },
  ]);
  const egress = np.spec.egress.map((r) => [r.ports.map((p) => `${p.port}/${p.protocol}`).join(","), JSON.stringify(r.to ?? "anywhere")]);
  assert.deepEqual(egress, [
    ["53/UDP,53/TCP,5353/UDP,5353/TCP", '"anywhere"'],
    ["443/TCP,6443/TCP", '[{"ipBlock":{"cidr":"10.0.0.1/32"}}]'],
    ["9091/TCP", '"anywhere"'],
  ]);
  for (const r of np.spec.egress) assert.ok(r.ports.length > 0, "no rule allows every port");
  // no port in the URL: the scheme's
  const plain = helmTemplate(["--set", "networkPolicy.enabled=true", "--set", "prometheus.url=http://prometheus.monitoring.svc"]);
  assert.deepEqual((plain.find((o) => o.kind === "NetworkPolicy") as unknown as Policy).spec.egress.at(-1)?.ports, [
    { port: 80, protocol: "TCP" },
  ]);
  const noWebhook = helmTemplate(["--set", "networkPolicy.enabled=true", "--set", "webhook.enabled=false"]);
  assert.deepEqual(
    (noWebhook.find((o) => o.kind === "NetworkPolicy") as unknown as Policy).spec.ingress.map((r) => r.ports),
    [[{ port: "metrics", protocol: "TCP" }]],
    "no webhook rule without the webhook",
  );
  const noProm = helmTemplate(["--set", "networkPolicy.enabled=true"]);
  assert.equal(
    (noProm.find((o) => o.kind === "NetworkPolicy") as unknown as Policy).spec.egress.length,
    2,
    "no Prometheus rule without a URL",
  );

  const dashboard = list.find((o) => o.kind === "ConfigMap" && o.metadata?.name === `${HELM_RELEASE}-dashboard`) as
    | (KubernetesObject & { data: Record<string, string> })
    | undefined;
  assert.ok(dashboard);
  assert.equal(dashboard.metadata?.labels?.["grafana_dashboard"], "1");
  assert.equal(dashboard.metadata?.namespace, HELM_NAMESPACE);
  assert.equal((JSON.parse(dashboard.data["kserve-reclaimer-dashboard.json"] ?? "") as { uid: string }).uid, "kserve-reclaimer");

  const literal = list.find((o) => o.metadata?.name === "literal") as KubernetesObject & { data: Record<string, string> };
  assert.equal(literal.data["alert"], "{{ $labels.x }}", "a map is not templated");
  const templated = list.find((o) => o.metadata?.name === `${HELM_RELEASE}-templated`) as KubernetesObject & {
    data: Record<string, string>;
  };
  assert.equal(templated.data["url"], "https://thanos-querier.openshift-monitoring.svc:9091", "a string is");

  await apply([namespace(HELM_NAMESPACE)], false);
  await apply(
    list.filter((o) => ["NetworkPolicy", "ConfigMap", "ClusterRole"].includes(o.kind ?? "")),
    true,
  );
});

test("the Deployments are scheduled: two replicas each, on different nodes", { timeout: 120_000 }, async () => {
  for (const [ns, name] of [
    ["kserve-reclaimer", "kserve-reclaimer"],
    [HELM_NAMESPACE, HELM_RELEASE],
  ] as const) {
    await eventually(
      `${ns}/${name} has 2 pods on 2 nodes`,
      async () => {
        // the daemon's pods; the waker's are another Deployment (component=waker)
        const pods = await kc
          .makeApiClient(CoreV1Api)
          .listNamespacedPod({ namespace: ns, labelSelector: "app.kubernetes.io/component=controller" });
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
    // wake on request (docs/wake-on-request.md) and the pods of a service not scheduled
    [{ verb: "list", group: "", resource: "pods", namespace: "" }, true],
    [{ verb: "delete", group: "", resource: "pods", namespace: "ml-team-a", name: "p" }, false],
    [{ verb: "create", group: "authentication.k8s.io", resource: "tokenreviews" }, true],
    [{ verb: "create", group: "networking.k8s.io", resource: "ingresses", namespace: "ml-team-a" }, true],
    [{ verb: "delete", group: "networking.k8s.io", resource: "ingresses", namespace: "ml-team-a", name: "llama-wake" }, true],
    [{ verb: "update", group: "networking.k8s.io", resource: "ingresses", namespace: "ml-team-a", name: "llama" }, false],
    [{ verb: "patch", group: "networking.k8s.io", resource: "ingresses", namespace: "ml-team-a", name: "llama" }, false],
    [{ verb: "get", group: "", resource: "configmaps", namespace: "kserve", name: "inferenceservice-config" }, true],
    [{ verb: "get", group: "", resource: "configmaps", namespace: "kserve", name: "other" }, false],
    [{ verb: "create", group: "coordination.k8s.io", resource: "leases", namespace: "kserve-reclaimer" }, true],
    [{ verb: "update", group: "coordination.k8s.io", resource: "leases", namespace: "kserve-reclaimer", name: "kserve-reclaimer" }, true],
    [{ verb: "update", group: "coordination.k8s.io", resource: "leases", namespace: "kserve-reclaimer", name: "other" }, false],
    [{ verb: "create", group: "coordination.k8s.io", resource: "leases", namespace: "ml-team-a" }, false],
    // the admission webhook's self-managed certificate: its own Secret and configuration only
    [{ verb: "create", group: "", resource: "secrets", namespace: "kserve-reclaimer" }, true],
    [{ verb: "update", group: "", resource: "secrets", namespace: "kserve-reclaimer", name: "kserve-reclaimer-webhook-tls" }, true],
    [{ verb: "get", group: "", resource: "secrets", namespace: "kserve-reclaimer", name: "kserve-reclaimer-webhook-tls" }, true],
    [{ verb: "update", group: "", resource: "secrets", namespace: "kserve-reclaimer", name: "x" }, false],
    [{ verb: "create", group: "", resource: "secrets", namespace: "ml-team-a" }, false],
    [{ verb: "watch", group: "", resource: "secrets", namespace: "kserve-reclaimer" }, false],
    [{ verb: "patch", group: "admissionregistration.k8s.io", resource: "validatingwebhookconfigurations", name: "kserve-reclaimer" }, true],
    [{ verb: "patch", group: "admissionregistration.k8s.io", resource: "validatingwebhookconfigurations", name: "other" }, false],
    [{ verb: "list", group: "admissionregistration.k8s.io", resource: "validatingwebhookconfigurations" }, false],
    [{ verb: "create", group: "admissionregistration.k8s.io", resource: "validatingwebhookconfigurations" }, false],
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

// Static checks of the kustomize manifests in deploy/: they parse, the RBAC is exactly what the
// daemon's code uses, the Deployment is hardened and starts the daemon with flags it accepts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";
import { join } from "node:path";
import { DaemonConfig, loadDaemonConfig, DAEMON_FLAGS } from "../../../src/daemon/config.ts";
import { loadWakerConfig } from "../../../src/wake/config.ts";
import { CLUSTER_CRD_FILE, CRD_FILE } from "../../../src/api/crd.ts";
import {
  chartDir,
  filesUnder,
  find,
  leasePermissions,
  objectsOf,
  parseYamlFile,
  permissions,
  readText,
  repoRoot,
  WATCHED_NAMESPACE_PERMISSIONS,
  CLUSTER_WIDE_PERMISSIONS,
  type K8sObject,
  type Rule,
  WEBHOOK_CLUSTER_PERMISSIONS,
  webhookSecretPermissions,
  webhookConfigurationPermissions,
  isWebhookRbac,
  isWakeRbac,
  WAKE_CLUSTER_PERMISSIONS,
  WAKE_ROUTE_DELETES,
} from "./helpers.ts";

const defaults = DaemonConfig.parse({});
// the daemon's defaults for --webhook-secret, --webhook-service and --webhook-configuration: the
// kustomize install relies on them (the Helm chart passes its own names)
const WEBHOOK_SECRET = defaults.webhookSecret;
const WEBHOOK_SERVICE = defaults.webhookService;
const WEBHOOK_CONFIGURATION = defaults.webhookConfiguration;
const yamlFiles = filesUnder("deploy", [".yaml", ".yml"], (rel) => rel.startsWith("deploy/helm/kserve-reclaimer/templates"));

type Kustomization = {
  resources?: string[];
  components?: string[];
  patches?: { patch: string }[];
  configMapGenerator?: { name: string; literals?: string[] }[];
  images?: { name: string; newName?: string; newTag: string }[];
};
const kustomization = (dir: string) => parseYamlFile(join(dir, "kustomization.yaml"))[0] as Kustomization;

/** The objects of a kustomization, resolving resources and components (patches and generators not applied). */
function resolve(dir: string): K8sObject[] {
  const k = kustomization(dir);
  const out: K8sObject[] = [];
  for (const r of [...(k.resources ?? []), ...(k.components ?? [])]) {
    const p = join(dir, r);
    if (existsSync(join(repoRoot, p, "kustomization.yaml"))) out.push(...resolve(p));
    else out.push(...objectsOf(p));
  }
  return out;
}

const base = resolve("deploy");

const AGGREGATE = /^rbac\.authorization\.k8s\.io\/aggregate-to-(admin|edit|view)$/;
/** The ClusterRoles for people: bound to nobody, their rules join the built-in admin/edit/view roles. */
const isUserRole = (o: K8sObject) => o.kind === "ClusterRole" && Object.keys(o.metadata.labels ?? {}).some((k) => AGGREGATE.test(k));
const aggregatesTo = (o: K8sObject) =>
  Object.entries(o.metadata.labels ?? {})
    .filter(([k, v]) => AGGREGATE.test(k) && v === "true")
    .map(([k]) => k.slice(k.lastIndexOf("-") + 1))
    .sort();
const SCHEDULE_EDIT = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"].map(
  (v) => `reclaimer.dev/servingschedules ${v}`,
);
const SCHEDULE_VIEW = ["get", "list", "watch"].map((v) => `reclaimer.dev/servingschedules ${v}`);
const deployment = find(base, "Deployment", "kserve-reclaimer");
type Container = {
  name: string;
  image: string;
  args: string[];
  env: { name: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
  ports: { name: string; containerPort: number }[];
  livenessProbe: { httpGet: { path: string; port: string } };
  readinessProbe: { httpGet: { path: string; port: string } };
  resources: { requests: Record<string, string>; limits: Record<string, string> };
  securityContext: Record<string, unknown>;
};
const podSpec = (
  deployment as unknown as { spec: { replicas: number; template: { spec: Record<string, unknown> & { containers: Container[] } } } }
).spec;
const container = podSpec.template.spec.containers[0] as Container;

test("every YAML file under deploy/ parses, and every object has apiVersion, kind and name", () => {
  assert.ok(yamlFiles.length >= 15, `found ${yamlFiles.length} files`);
  for (const f of yamlFiles) {
    const docs = parseYamlFile(f);
    assert.ok(docs.length > 0, `${f} is not empty`);
    if (f.endsWith("kustomization.yaml") || f.endsWith("values.yaml") || f.endsWith("Chart.yaml")) continue;
    for (const o of docs as K8sObject[]) {
      assert.equal(typeof o.apiVersion, "string", `${f}: apiVersion`);
      assert.equal(typeof o.kind, "string", `${f}: kind`);
      assert.equal(typeof o.metadata?.name, "string", `${f}: ${o.kind} has a name`);
    }
  }
});

test("every resource and component a kustomization lists exists", () => {
  for (const f of yamlFiles.filter((x) => x.endsWith("kustomization.yaml"))) {
    const dir = f.slice(0, -"/kustomization.yaml".length);
    const k = kustomization(dir);
    for (const r of [...(k.resources ?? []), ...(k.components ?? [])]) assert.ok(existsSync(join(repoRoot, dir, r)), `${f}: ${r} exists`);
  }
});

test("deploy/ installs the CRD, a namespace, the ServiceAccount, RBAC, Deployment, Services, PDB and the webhook; no monitoring.coreos.com objects", () => {
  const kinds = base.map((o) => o.kind).sort();
  // the daemon's and the waker's (Deployment, Service, PDB, ServiceAccount), and the wake RBAC
  assert.deepEqual(kinds, [
    "ClusterRole",
    "ClusterRole",
    "ClusterRole",
    "ClusterRole",
    "ClusterRole",
    "ClusterRoleBinding",
    "ClusterRoleBinding",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "CustomResourceDefinition",
    "Deployment",
    "Deployment",
    "Namespace",
    "PodDisruptionBudget",
    "PodDisruptionBudget",
    "Role",
    "Role",
    "Role",
    "RoleBinding",
    "RoleBinding",
    "RoleBinding",
    "Service",
    "Service",
    "Service",
    "ServiceAccount",
    "ServiceAccount",
    "ValidatingWebhookConfiguration",
  ]);
  assert.ok(!base.some((o) => o.apiVersion.startsWith("monitoring.coreos.com/")), "the base applies without the Prometheus operator");
  const monitoring = resolve("deploy/overlays/prometheus-operator")
    .filter((o) => o.apiVersion === "monitoring.coreos.com/v1")
    .map((o) => o.kind)
    .sort();
  assert.deepEqual(monitoring, ["PrometheusRule", "ServiceMonitor"]);
});

test("the ClusterRole grants exactly what the daemon uses: no delete, no update of InferenceServices, no Secrets, no wildcards", () => {
  const role = find(base, "ClusterRole", "kserve-reclaimer") as K8sObject & { rules: Rule[] };
  assert.deepEqual(permissions(role.rules), CLUSTER_WIDE_PERMISSIONS);
  const binding = find(base, "ClusterRoleBinding", "kserve-reclaimer") as K8sObject & {
    roleRef: { kind: string; name: string };
    subjects: { kind: string; name: string; namespace: string }[];
  };
  assert.deepEqual(binding.roleRef, { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "kserve-reclaimer" });
  assert.deepEqual(binding.subjects, [{ kind: "ServiceAccount", name: "kserve-reclaimer", namespace: "kserve-reclaimer" }]);
});

test("no Role or ClusterRole of the daemon anywhere in deploy/ grants delete, update of InferenceServices, Secrets (but the webhook's own), escalation or wildcards", () => {
  const roles = yamlFiles.flatMap((f) =>
    (parseYamlFile(f) as K8sObject[])
      .filter((o) => (o?.kind === "Role" || o?.kind === "ClusterRole") && !isUserRole(o))
      .map((o) => ({ f, o: o as K8sObject & { rules: Rule[] } })),
  );
  assert.ok(roles.length >= 4, `found ${roles.length}`);
  for (const { f, o } of roles) {
    for (const p of permissions(o.rules)) {
      assert.doesNotMatch(p, /\*/, `${f} ${o.metadata.name}: ${p}`);
      // the wake routes are the one thing the daemon deletes: its own, checked exactly below
      if (!(isWakeRbac(o) && WAKE_ROUTE_DELETES.includes(p)))
        assert.doesNotMatch(p, / (delete|deletecollection|escalate|bind|impersonate)$/, `${f} ${o.metadata.name}: ${p}`);
      // the webhook's Role: create, and get/update of its own Secret only (checked exactly below)
      const webhookSecret = isWebhookRbac(o) && o.kind === "Role" && webhookSecretPermissions(WEBHOOK_SECRET).includes(p);
      // wake on request: KServe's inferenceservice-config (by name), checked exactly below
      const wakeRead = isWakeRbac(o) && p === "core/configmaps:inferenceservice-config get";
      // the daemon's own rules: predictor pods, read only (when a stopped service's GPUs are free)
      const podRead = !isWakeRbac(o) && !isWebhookRbac(o) && /^core\/pods (get|list|watch)$/.test(p);
      if (!webhookSecret && !wakeRead && !podRead)
        assert.doesNotMatch(p, /^core\/(secrets|configmaps|pods)/, `${f} ${o.metadata.name}: ${p}`);
      assert.doesNotMatch(p, /^serving\.kserve\.io\/inferenceservices update$/, `${f} ${o.metadata.name}: ${p}`);
    }
    for (const r of o.rules) assert.equal(r.nonResourceURLs, undefined);
  }
});

test("wake on request: TokenReviews, the wake routes (get, list, create, delete; no update), KServe's ConfigMap by name; ReferenceGrants in the daemon's namespace only", () => {
  const role = find(base, "ClusterRole", "kserve-reclaimer-wake") as K8sObject & { rules: Rule[] };
  assert.deepEqual(permissions(role.rules), WAKE_CLUSTER_PERMISSIONS);
  const binding = find(base, "ClusterRoleBinding", "kserve-reclaimer-wake") as K8sObject & {
    roleRef: { name: string };
    subjects: { kind: string; name: string; namespace: string }[];
  };
  assert.equal(binding.roleRef.name, "kserve-reclaimer-wake");
  assert.deepEqual(binding.subjects, [{ kind: "ServiceAccount", name: "kserve-reclaimer", namespace: "kserve-reclaimer" }]);
  const grants = find(base, "Role", "kserve-reclaimer-wake") as K8sObject & { rules: Rule[] };
  assert.deepEqual(permissions(grants.rules), [
    "gateway.networking.k8s.io/referencegrants create",
    "gateway.networking.k8s.io/referencegrants get",
  ]);
});

test("people's ClusterRoles: ServingSchedule CRUD aggregated to admin and edit, read to view; bound to nobody; nothing else", () => {
  const userRoles = base.filter(isUserRole) as (K8sObject & { rules: Rule[] })[];
  assert.deepEqual(
    userRoles.map((r) => [r.metadata.name, aggregatesTo(r), permissions(r.rules)]),
    [
      ["kserve-reclaimer-edit", ["admin", "edit"], SCHEDULE_EDIT],
      ["kserve-reclaimer-view", ["view"], SCHEDULE_VIEW],
    ],
  );
  // the daemon owns status; a person writing it would fake what kubectl get ssched shows
  for (const r of userRoles) for (const p of permissions(r.rules)) assert.doesNotMatch(p, /\/status /);
  const bound = yamlFiles.flatMap((f) =>
    (parseYamlFile(f) as (K8sObject & { roleRef?: { name: string } })[]).filter((o) => o?.roleRef).map((o) => o.roleRef?.name),
  );
  for (const r of userRoles) assert.ok(!bound.includes(r.metadata.name), `${r.metadata.name} is bound by nothing in deploy/`);
  for (const overlay of ["deploy/overlays/namespaced", "deploy/overlays/prometheus-operator"])
    assert.deepEqual(
      resolve(overlay)
        .filter(isUserRole)
        .map((o) => o.metadata.name),
      ["kserve-reclaimer-edit", "kserve-reclaimer-view"],
      overlay,
    );
});

test("the opt-in component lets admin and edit get, list, watch and patch InferenceServices (wake/sleep/status), no create, update or delete", () => {
  const [role, ...rest] = resolve("deploy/components/edit-inferenceservices") as (K8sObject & { rules: Rule[] })[];
  assert.equal(rest.length, 0);
  assert.ok(role && isUserRole(role));
  assert.equal(role.metadata.name, "kserve-reclaimer-edit-inferenceservices");
  assert.deepEqual(aggregatesTo(role), ["admin", "edit"]);
  assert.deepEqual(permissions(role.rules), [
    "serving.kserve.io/inferenceservices get",
    "serving.kserve.io/inferenceservices list",
    "serving.kserve.io/inferenceservices patch",
    "serving.kserve.io/inferenceservices watch",
  ]);
  assert.ok(!base.some((o) => o.metadata.name === role.metadata.name), "not in deploy/ unless an overlay adds it");
});

test("leader election: create, and get/update of the daemon's own Lease only, in its namespace", () => {
  const role = find(base, "Role", "kserve-reclaimer-leader-election") as K8sObject & { rules: Rule[] };
  assert.deepEqual(permissions(role.rules), leasePermissions(defaults.leaderElectionId).sort());
  const binding = find(base, "RoleBinding", "kserve-reclaimer-leader-election") as K8sObject & { subjects: unknown[] };
  assert.deepEqual(binding.subjects, [{ kind: "ServiceAccount", name: "kserve-reclaimer", namespace: "kserve-reclaimer" }]);
  assert.equal(defaults.leaderElectionNamespace, "kserve-reclaimer");
});

test("the Deployment: 2 replicas, leader election, POD_NAME from the downward API, flags the daemon accepts", () => {
  assert.equal(podSpec.replicas, 2);
  assert.equal(container.args[0], "run");
  assert.ok(container.args.includes("--leader-elect"));
  const env = Object.fromEntries(container.env.map((e) => [e.name, e.valueFrom?.fieldRef?.fieldPath]));
  assert.equal(env["POD_NAME"], "metadata.name");
  assert.equal(env["RECLAIMER_LEADER_ELECTION_NAMESPACE"], "metadata.namespace");
  // the args and the settings ConfigMap, as the container sees them
  const k = kustomization("deploy/base");
  const literals = k.configMapGenerator?.find((g) => g.name === "kserve-reclaimer-config")?.literals ?? [];
  const settings = Object.fromEntries(literals.map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
  for (const name of Object.keys(settings)) {
    const flag = name
      .replace(/^RECLAIMER_/, "")
      .toLowerCase()
      .replace(/_/g, "-");
    assert.ok(DAEMON_FLAGS.includes(flag), `${name} is the environment form of a flag`);
  }
  const config = loadDaemonConfig(container.args.slice(1), { ...settings, RECLAIMER_LEADER_ELECTION_NAMESPACE: "kserve-reclaimer" });
  assert.equal(config.leaderElect, true);
  assert.deepEqual(config.namespaces, []);
  const port = Number(config.metricsAddr.split(":").pop());
  // the admission webhook, with the daemon's own certificate (the cert-manager component swaps that)
  assert.equal(config.webhookAddr, ":9443");
  assert.equal(config.webhookSelfManagedCa, true);
  assert.equal(config.webhookCertDir, undefined, "not both certificate modes");
  const webhookPort = Number(config.webhookAddr?.split(":").pop());
  assert.deepEqual(container.ports, [
    { name: "metrics", containerPort: port, protocol: "TCP" },
    { name: "webhook", containerPort: webhookPort, protocol: "TCP" },
  ]);
  assert.deepEqual(
    [container.livenessProbe.httpGet, container.readinessProbe.httpGet],
    [
      { path: "/healthz", port: "metrics" },
      { path: "/readyz", port: "metrics" },
    ],
  );
});

test("the Deployment is hardened: non-root 65532, read-only root, no privilege escalation, no capabilities, RuntimeDefault seccomp, requests and limits", () => {
  assert.deepEqual(podSpec.template.spec["securityContext"], {
    runAsNonRoot: true,
    runAsUser: 65532,
    runAsGroup: 65532,
    fsGroup: 65532,
    seccompProfile: { type: "RuntimeDefault" },
  });
  assert.deepEqual(container.securityContext, {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    capabilities: { drop: ["ALL"] },
  });
  assert.deepEqual(container.resources, { requests: { cpu: "50m", memory: "256Mi" }, limits: { memory: "512Mi" } });
  assert.equal(podSpec.template.spec["serviceAccountName"], "kserve-reclaimer");
  assert.ok(podSpec.template.spec["topologySpreadConstraints"], "spread across nodes");
  assert.ok((podSpec.template.spec["affinity"] as { podAntiAffinity?: unknown }).podAntiAffinity, "anti-affinity across nodes");
  const pdb = find(base, "PodDisruptionBudget", "kserve-reclaimer") as K8sObject & { spec: { maxUnavailable: number; selector: unknown } };
  assert.equal(pdb.spec.maxUnavailable, 1);
  assert.deepEqual(pdb.spec.selector, (deployment as unknown as { spec: { selector: unknown } }).spec.selector);
  const ns = find(base, "Namespace", "kserve-reclaimer");
  assert.equal(ns.metadata.labels?.["pod-security.kubernetes.io/enforce"], "restricted");
});

test("the Service selects the pods and exposes the metrics port; the ServiceMonitor selects the Service", () => {
  const svc = find(base, "Service", "kserve-reclaimer-metrics") as K8sObject & {
    spec: { selector: Record<string, string>; ports: { name: string; targetPort: string }[] };
  };
  assert.deepEqual(
    svc.spec.selector,
    (deployment as unknown as { spec: { selector: { matchLabels: unknown } } }).spec.selector.matchLabels,
  );
  assert.equal(svc.spec.ports[0]?.targetPort, "metrics");
  const sm = find(resolve("deploy/overlays/prometheus-operator"), "ServiceMonitor") as K8sObject & {
    spec: { selector: { matchLabels: Record<string, string> }; endpoints: { port: string; path: string }[] };
  };
  for (const [k, v] of Object.entries(sm.spec.selector.matchLabels)) assert.equal(svc.metadata.labels?.[k], v, `Service has label ${k}`);
  assert.deepEqual(
    sm.spec.endpoints.map((e) => [e.port, e.path]),
    [["metrics", "/metrics"]],
  );
});

test("namespaced overlay: no ClusterRole for the daemon (but the webhook's, for its own configuration), a Role + RoleBinding with the daemon's rules in exactly the namespaces of --namespaces", () => {
  const objects = resolve("deploy/overlays/namespaced");
  assert.ok(!objects.some((o) => ((o.kind === "ClusterRole" && !isUserRole(o)) || o.kind === "ClusterRoleBinding") && !isWebhookRbac(o)));
  const webhookRole = find(objects, "ClusterRole", "kserve-reclaimer-webhook") as K8sObject & { rules: Rule[] };
  assert.deepEqual(permissions(webhookRole.rules), WEBHOOK_CLUSTER_PERMISSIONS);
  const patch = kustomization("deploy/overlays/namespaced").patches?.[0]?.patch ?? "";
  const arg = /--namespaces=([\w,-]+)/.exec(patch)?.[1];
  assert.ok(arg, "the overlay adds --namespaces");
  const namespaces = loadDaemonConfig([`--namespaces=${arg}`], {}).namespaces;
  assert.deepEqual(namespaces, ["ml-team-a", "ml-team-b"]);
  const roles = objects.filter((o) => o.kind === "Role" && o.metadata.name === "kserve-reclaimer") as (K8sObject & { rules: Rule[] })[];
  assert.deepEqual(roles.map((r) => r.metadata.namespace).sort(), namespaces);
  for (const r of roles) assert.deepEqual(permissions(r.rules), WATCHED_NAMESPACE_PERMISSIONS);
  const bindings = objects.filter((o) => o.kind === "RoleBinding" && o.metadata.name === "kserve-reclaimer") as (K8sObject & {
    roleRef: unknown;
    subjects: unknown;
  })[];
  assert.deepEqual(bindings.map((b) => b.metadata.namespace).sort(), namespaces);
  for (const b of bindings) {
    assert.deepEqual(b.roleRef, { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "kserve-reclaimer" });
    assert.deepEqual(b.subjects, [{ kind: "ServiceAccount", name: "kserve-reclaimer", namespace: "kserve-reclaimer" }]);
  }
});

test("the Helm chart's CRDs are byte-for-byte deploy/crds (both written by npm run generate:crd)", () => {
  const names = [CRD_FILE, CLUSTER_CRD_FILE].map((f) => f.slice(f.lastIndexOf("/") + 1));
  for (const [i, file] of [CRD_FILE, CLUSTER_CRD_FILE].entries())
    assert.equal(readFileSync(join(chartDir, "crds", names[i] as string), "utf8"), readText(file));
  assert.deepEqual(parseYamlFile("deploy/crds/kustomization.yaml"), [{ resources: names }]);
});

test("one version everywhere: package.json, the kustomize image tag, the chart's appVersion", () => {
  const pkg = JSON.parse(readText("package.json")) as { version: string };
  const image = kustomization("deploy/base").images?.find((i) => i.name === container.image);
  assert.ok(image, "the Deployment's image is set by kustomize images:");
  assert.equal(image.newTag, pkg.version);
  assert.equal(
    image.newName,
    undefined,
    "the name stays, so an overlay can match it (test/integration/deploy.test.ts runs kustomize edit set image)",
  );
  const chart = parseYamlFile("deploy/helm/kserve-reclaimer/Chart.yaml")[0] as { appVersion: string; version: string };
  assert.equal(chart.appVersion, pkg.version);
  const values = parseYamlFile("deploy/helm/kserve-reclaimer/values.yaml")[0] as { image: { repository: string } };
  assert.equal(values.image.repository, image.name);
  // the comment tells people the command to override it: it must name this image
  assert.match(readText("deploy/base/kustomization.yaml"), new RegExp(`kustomize edit set image ${image.name}=\\S+:\\S+`));
});

type Webhook = {
  name: string;
  failurePolicy: string;
  sideEffects: string;
  admissionReviewVersions: string[];
  timeoutSeconds: number;
  matchPolicy: string;
  rules: unknown[];
  clientConfig: { service: { name: string; namespace: string; path: string; port: number }; caBundle?: string };
};
type WebhookConfiguration = K8sObject & { webhooks: Webhook[] };

test("the admission webhook: both kinds on create and update, fails open, no caBundle, served by the pods through its Service", () => {
  const vwc = find(base, "ValidatingWebhookConfiguration", WEBHOOK_CONFIGURATION) as WebhookConfiguration;
  assert.equal(vwc.webhooks.length, 1);
  const [hook] = vwc.webhooks as [Webhook];
  assert.deepEqual(hook, {
    name: "servingschedules.reclaimer.dev",
    // the daemon being down must never block an apply: it reports invalid schedules itself
    failurePolicy: "Ignore",
    sideEffects: "None",
    admissionReviewVersions: ["v1"],
    timeoutSeconds: 5,
    matchPolicy: "Equivalent",
    rules: [
      {
        apiGroups: ["reclaimer.dev"],
        apiVersions: ["*"],
        operations: ["CREATE", "UPDATE"],
        resources: ["servingschedules", "clusterservingschedules"],
        scope: "*",
      },
    ],
    clientConfig: { service: { name: WEBHOOK_SERVICE, namespace: "kserve-reclaimer", path: "/validate", port: 443 } },
  });
  // the namespace the base's kustomization puts everything in
  assert.equal(
    (parseYamlFile("deploy/base/kustomization.yaml")[0] as { namespace: string }).namespace,
    hook.clientConfig.service.namespace,
  );
  const svc = find(base, "Service", WEBHOOK_SERVICE) as K8sObject & {
    spec: { selector: Record<string, string>; ports: { name: string; port: number; targetPort: string }[] };
  };
  const metrics = find(base, "Service", "kserve-reclaimer-metrics") as K8sObject & { spec: { selector: unknown } };
  assert.deepEqual(svc.spec.selector, metrics.spec.selector);
  assert.deepEqual(
    svc.spec.ports.map((p) => [p.port, p.targetPort]),
    [[443, "webhook"]],
  );
  assert.ok(
    container.ports.some((p) => p.name === "webhook"),
    "the pods name the port the Service targets",
  );
});

test("the webhook's RBAC (self-managed certificate): create Secrets and get/update its own; get/patch of its own configuration only", () => {
  const role = find(base, "Role", "kserve-reclaimer-webhook") as K8sObject & { rules: Rule[] };
  assert.deepEqual(permissions(role.rules), webhookSecretPermissions(WEBHOOK_SECRET).sort());
  const clusterRole = find(base, "ClusterRole", "kserve-reclaimer-webhook") as K8sObject & { rules: Rule[] };
  assert.deepEqual(permissions(clusterRole.rules), webhookConfigurationPermissions(WEBHOOK_CONFIGURATION));
  for (const kind of ["RoleBinding", "ClusterRoleBinding"]) {
    const b = find(base, kind, "kserve-reclaimer-webhook") as K8sObject & { roleRef: unknown; subjects: unknown };
    assert.deepEqual(b.roleRef, {
      apiGroup: "rbac.authorization.k8s.io",
      kind: kind.replace("Binding", ""),
      name: "kserve-reclaimer-webhook",
    });
    assert.deepEqual(b.subjects, [{ kind: "ServiceAccount", name: "kserve-reclaimer", namespace: "kserve-reclaimer" }]);
  }
});

test("the cert-manager component: Issuer + Certificate for the webhook Service, CA injected, the Secret mounted, --webhook-cert-dir, self-managed RBAC deleted", () => {
  const dir = "deploy/components/cert-manager";
  const objects = resolve(dir);
  const cert = find(objects, "Certificate") as K8sObject & {
    spec: { secretName: string; dnsNames: string[]; issuerRef: { kind: string; name: string } };
  };
  const issuer = find(objects, "Issuer");
  assert.deepEqual(issuer.metadata.namespace, "kserve-reclaimer");
  assert.deepEqual(cert.spec.issuerRef, { kind: "Issuer", name: issuer.metadata.name });
  assert.deepEqual(cert.spec.dnsNames, [
    `${WEBHOOK_SERVICE}.kserve-reclaimer.svc`,
    `${WEBHOOK_SERVICE}.kserve-reclaimer.svc.cluster.local`,
  ]);
  const k = parseYamlFile(`${dir}/kustomization.yaml`)[0] as { patches: { patch: string; target?: { kind: string } }[] };
  const patchOf = (kind: string) => k.patches.find((p) => p.target?.kind === kind)?.patch ?? "";
  const vwcPatch = parseAllDocumentsJs(patchOf("ValidatingWebhookConfiguration"))[0] as K8sObject;
  assert.equal(vwcPatch.metadata.annotations?.["cert-manager.io/inject-ca-from"], `${cert.metadata.namespace}/${cert.metadata.name}`);
  const ops = parseAllDocumentsJs(patchOf("Deployment"))[0] as { op: string; path: string; value: unknown }[];
  // the `test` names the base's argument it replaces, at the index the base has it
  const tested = ops.find((o) => o.op === "test");
  assert.ok(tested);
  const index = Number(tested.path.split("/").pop());
  assert.equal(container.args[index], tested.value);
  assert.equal(tested.value, "--webhook-self-managed-ca");
  assert.deepEqual(
    ops.filter((o) => o.op !== "test").map((o) => [o.op, o.path, o.value]),
    [
      ["replace", tested.path, "--webhook-cert-dir=/certs"],
      ["add", "/spec/template/spec/containers/0/volumeMounts/-", { name: "webhook-cert", mountPath: "/certs", readOnly: true }],
      ["add", "/spec/template/spec/volumes/-", { name: "webhook-cert", secret: { secretName: cert.spec.secretName } }],
    ],
  );
  const deleted = k.patches
    .filter((p) => !p.target)
    .map((p) => parseAllDocumentsJs(p.patch)[0] as K8sObject & { $patch?: string })
    .filter((o) => o.$patch === "delete")
    .map((o) => `${o.kind}/${o.metadata.name}`)
    .sort();
  assert.deepEqual(
    deleted,
    base
      .filter(isWebhookRbac)
      .map((o) => `${o.kind}/${o.metadata.name}`)
      .sort(),
  );
  assert.deepEqual(kustomization("deploy/overlays/cert-manager").components, ["../../components/cert-manager"]);
});

function parseAllDocumentsJs(text: string): unknown[] {
  return parseAllDocuments(text).map((d) => d.toJS() as unknown);
}

test("the waker: flags the waker accepts, its token's audience is the one the daemon checks, no Kubernetes API token, the daemon's Service", () => {
  const waker = find(base, "Deployment", "kserve-reclaimer-waker") as K8sObject & {
    spec: {
      template: {
        spec: {
          automountServiceAccountToken?: boolean;
          serviceAccountName: string;
          containers: Container[];
          volumes: { name: string; projected?: { sources: { serviceAccountToken?: { audience: string; path: string } }[] } }[];
        };
      };
    };
  };
  const pod = waker.spec.template.spec;
  assert.equal(pod.automountServiceAccountToken, false, "no token for the Kubernetes API");
  const sa = find(base, "ServiceAccount", pod.serviceAccountName) as K8sObject & { automountServiceAccountToken?: boolean };
  assert.equal(sa.automountServiceAccountToken, false);
  const [c] = pod.containers;
  assert.ok(c);
  assert.equal(c.args[0], "waker");
  const config = loadWakerConfig(c.args.slice(1), {});
  const projected = pod.volumes.flatMap((v) => v.projected?.sources ?? []).find((s) => s.serviceAccountToken)?.serviceAccountToken;
  assert.equal(projected?.audience, defaults.wakeTokenAudience, "the audience the daemon's TokenReview asks for");
  assert.ok(config.tokenFile.endsWith(`/${projected?.path}`), `${config.tokenFile} is the projected token`);
  // the daemon's wake API is on its metrics port, behind the metrics Service
  const service = find(base, "Service", "kserve-reclaimer-metrics") as K8sObject & { spec: { ports: { port: number }[] } };
  assert.equal(config.daemonUrl, `http://kserve-reclaimer-metrics:${service.spec.ports[0]?.port}`);
  // the Service the daemon's wake routes point at, by the daemon's default --waker-service
  const wakerService = find(base, "Service", "kserve-reclaimer-waker") as K8sObject & { spec: { ports: { port: number }[] } };
  assert.equal(wakerService.spec.ports[0]?.port, 80);
  assert.equal(
    defaults.wakerServiceAccount ?? "system:serviceaccount:kserve-reclaimer:kserve-reclaimer-waker",
    `system:serviceaccount:kserve-reclaimer:${sa.metadata.name}`,
  );
});

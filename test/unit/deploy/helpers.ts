// Reading the install artifacts of deploy/ for the static tests: YAML files as objects, and the
// kustomize layers resolved by hand (no kustomize binary: these are unit tests).
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";

export const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
export const deployDir = join(repoRoot, "deploy");
export const chartDir = join(deployDir, "helm", "kserve-reclaimer");

export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
};

export type Rule = { apiGroups?: string[]; resources?: string[]; resourceNames?: string[]; verbs: string[]; nonResourceURLs?: string[] };

export function readText(path: string): string {
  return readFileSync(join(repoRoot, path), "utf8");
}

/** Every document of a YAML file, failing on any parse error or warning. */
export function parseYamlFile(path: string): unknown[] {
  const docs = parseAllDocuments(readText(path));
  const out: unknown[] = [];
  for (const d of docs) {
    if (d.errors.length > 0) throw new Error(`${path}: ${d.errors.map((e) => e.message).join("; ")}`);
    if (d.warnings.length > 0) throw new Error(`${path}: ${d.warnings.map((e) => e.message).join("; ")}`);
    const v = d.toJS();
    if (v !== null && v !== undefined) out.push(v);
  }
  return out;
}

/** Paths (relative to the repository) of the files under `dir` whose name ends with one of `exts`. */
export function filesUnder(dir: string, exts: string[], skip: (rel: string) => boolean = () => false): string[] {
  const out: string[] = [];
  const walk = (abs: string) => {
    for (const name of readdirSync(abs).sort()) {
      const p = join(abs, name);
      const rel = relative(repoRoot, p);
      if (skip(rel)) continue;
      if (statSync(p).isDirectory()) walk(p);
      else if (exts.some((e) => name.endsWith(e))) out.push(rel);
    }
  };
  walk(join(repoRoot, dir));
  return out;
}

export function objectsOf(path: string): K8sObject[] {
  return parseYamlFile(path) as K8sObject[];
}

export function find(objects: K8sObject[], kind: string, name?: string, namespace?: string): K8sObject {
  const found = objects.filter(
    (o) =>
      o.kind === kind &&
      (name === undefined || o.metadata.name === name) &&
      (namespace === undefined || o.metadata.namespace === namespace),
  );
  if (found.length !== 1) throw new Error(`expected one ${kind} ${namespace ?? ""}/${name ?? "*"}, found ${found.length}`);
  return found[0] as K8sObject;
}

/** Rules flattened to "group/resource[:name] verb" strings, sorted, for exact comparisons. */
export function permissions(rules: Rule[]): string[] {
  const out = new Set<string>();
  for (const r of rules) {
    for (const g of r.apiGroups ?? []) {
      for (const res of r.resources ?? []) {
        for (const v of r.verbs) {
          const names = r.resourceNames && r.resourceNames.length > 0 ? r.resourceNames : [undefined];
          for (const n of names) out.add(`${g === "" ? "core" : g}/${res}${n === undefined ? "" : `:${n}`} ${v}`);
        }
      }
    }
  }
  return [...out].sort();
}

/** The rights the daemon's code uses (see the comments in deploy/rbac/cluster/clusterrole.yaml). */
export const WATCHED_NAMESPACE_PERMISSIONS = [
  "core/events create",
  "core/events patch",
  "core/pods get",
  "core/pods list",
  "core/pods watch",
  "reclaimer.dev/servingschedules get",
  "reclaimer.dev/servingschedules list",
  "reclaimer.dev/servingschedules watch",
  "reclaimer.dev/servingschedules/status patch",
  "serving.kserve.io/inferenceservices get",
  "serving.kserve.io/inferenceservices list",
  "serving.kserve.io/inferenceservices patch",
  "serving.kserve.io/inferenceservices watch",
  "serving.kserve.io/llminferenceservices get",
  "serving.kserve.io/llminferenceservices list",
  "serving.kserve.io/llminferenceservices patch",
  "serving.kserve.io/llminferenceservices watch",
];

/** The ClusterRole's: those of a watched namespace, plus ClusterServingSchedules and the labels of Namespaces. */
export const CLUSTER_WIDE_PERMISSIONS = [
  ...WATCHED_NAMESPACE_PERMISSIONS,
  "core/namespaces get",
  "core/namespaces list",
  "core/namespaces watch",
  "reclaimer.dev/clusterservingschedules get",
  "reclaimer.dev/clusterservingschedules list",
  "reclaimer.dev/clusterservingschedules watch",
  "reclaimer.dev/clusterservingschedules/status patch",
].sort();

export function leasePermissions(leaseName: string): string[] {
  return [
    "coordination.k8s.io/leases create",
    `coordination.k8s.io/leases:${leaseName} get`,
    `coordination.k8s.io/leases:${leaseName} update`,
  ];
}

/** Wake on request's RBAC (deploy/rbac/cluster/wake-clusterrole.yaml, deploy/base/wake-rbac.yaml, the chart's wake-rbac.yaml). */
export const isWakeRbac = (o: K8sObject) => /^(Cluster)?Role(Binding)?$/.test(o.kind) && /-wake(-grants)?$/.test(o.metadata.name);

/** The only deletes the daemon may do: its own wake routes (checked by label and uid before each). */
export const WAKE_ROUTE_DELETES = [
  "core/services delete",
  "gateway.networking.k8s.io/httproutes delete",
  "networking.k8s.io/ingresses delete",
];

export const WAKE_CLUSTER_PERMISSIONS = [
  "authentication.k8s.io/tokenreviews create",
  "core/configmaps:inferenceservice-config get",
  "core/services create",
  "core/services get",
  ...WAKE_ROUTE_DELETES,
  "gateway.networking.k8s.io/httproutes create",
  "gateway.networking.k8s.io/httproutes get",
  "gateway.networking.k8s.io/httproutes list",
  "networking.k8s.io/ingresses create",
  "networking.k8s.io/ingresses get",
  "networking.k8s.io/ingresses list",
].sort();

/** The admission webhook's self-managed certificate: its Role and ClusterRole (deploy/base/webhook-rbac.yaml). */
export const isWebhookRbac = (o: K8sObject) => /^(Cluster)?Role(Binding)?$/.test(o.kind) && o.metadata.name.endsWith("-webhook");

export function webhookSecretPermissions(secretName: string): string[] {
  return ["core/secrets create", `core/secrets:${secretName} get`, `core/secrets:${secretName} update`];
}

export function webhookConfigurationPermissions(configurationName: string): string[] {
  return [
    `admissionregistration.k8s.io/validatingwebhookconfigurations:${configurationName} get`,
    `admissionregistration.k8s.io/validatingwebhookconfigurations:${configurationName} patch`,
  ];
}

export const WEBHOOK_CLUSTER_PERMISSIONS = webhookConfigurationPermissions("kserve-reclaimer");

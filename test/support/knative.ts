// What the local control plane needs to run Knative Serving v0.44.0 (the release KServe v0.16.0's
// go.mod pins) out of cluster, for InferenceServices in Knative (Serverless) mode: CRDs and
// ConfigMaps read at start-up from the downloaded Go modules (knative.dev/serving and the
// knative.dev/networking and knative.dev/caching versions its go.mod names; nothing copied into
// this repository), the objects Knative's controllers expect to find, and their processes'
// environment. Used by startCluster({ knative: true }) in cluster.ts.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import type { KubernetesObject } from "@kubernetes/client-node";
import { ComponentError } from "./processes.ts";

export const KNATIVE_SERVING_VERSION = "v0.44.0";
export const KNATIVE_NAMESPACE = "knative-serving";
/**
 * The autoscaler derives its identity (its lease holder name and the address other autoscalers
 * forward stats to) from POD_IP, and refuses loopback. 192.0.2.1 is TEST-NET-1 (RFC 5737): never
 * routed, so nothing is ever sent anywhere; with one autoscaler nothing is forwarded anyway.
 */
export const KNATIVE_AUTOSCALER_POD_IP = "192.0.2.1";
/**
 * Knative resolves every container image's tag to a digest by asking its registry, unless the
 * registry is listed here; there is no network here, so every registry a test may use is listed.
 */
export const KNATIVE_REGISTRIES_SKIPPING_TAG_RESOLVING = [
  "kind.local",
  "ko.local",
  "dev.local",
  "registry.invalid",
  "index.docker.io",
  "docker.io",
  "gcr.io",
  "ghcr.io",
  "quay.io",
  "nvcr.io",
  "registry.k8s.io",
  "public.ecr.aws",
];

function yamlDocs(path: string): KubernetesObject[] {
  return parseAllDocuments(readFileSync(path, "utf8"))
    .map((doc) => doc.toJS() as KubernetesObject | null)
    .filter((obj): obj is KubernetesObject => obj !== null && typeof obj === "object" && typeof obj.kind === "string");
}

/** A module's directory in the module cache, downloaded with `go mod download` when missing. */
export function goModuleDir(path: string, version: string): string {
  const modcache = execFileSync("go", ["env", "GOMODCACHE"], { encoding: "utf8" }).trim();
  const dir = join(modcache, ...path.split("/"));
  const cached = `${dir}@${version}`;
  if (existsSync(cached)) return cached;
  try {
    const out = execFileSync("go", ["mod", "download", "-json", `${path}@${version}`], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      cwd: tmpdir(), // outside any module: no go.mod is read or changed
    });
    const downloaded = (JSON.parse(out) as { Dir?: string }).Dir;
    if (downloaded && existsSync(downloaded)) return downloaded;
  } catch (err) {
    throw new ComponentError("knative", `cannot download ${path}@${version}`, { cause: err });
  }
  throw new ComponentError("knative", `${path}@${version} has no directory after go mod download`);
}

/** The version of `dependency` that a module's go.mod requires (Knative's own modules use pseudo-versions). */
export function requiredVersion(goMod: string, dependency: string): string {
  const escaped = dependency.replace(/[.]/g, "\\.");
  const m = new RegExp(`^\\s*(?:require\\s+)?${escaped}\\s+(v\\S+)`, "m").exec(goMod);
  if (!m?.[1]) throw new ComponentError("knative", `knative.dev/serving's go.mod does not require ${dependency}`);
  return m[1];
}

export type KnativeModules = { serving: string; networking: string; caching: string };

/** knative.dev/serving and the networking and caching modules at the versions its go.mod requires. */
export function knativeModules(): KnativeModules {
  const serving = goModuleDir("knative.dev/serving", KNATIVE_SERVING_VERSION);
  const goMod = readFileSync(join(serving, "go.mod"), "utf8");
  return {
    serving,
    networking: goModuleDir("knative.dev/networking", requiredVersion(goMod, "knative.dev/networking")),
    caching: goModuleDir("knative.dev/caching", requiredVersion(goMod, "knative.dev/caching")),
  };
}

/**
 * Knative's CRDs: serving's (Service, Configuration, Revision, Route, PodAutoscaler, Metric,
 * DomainMapping), networking's (Ingress, ServerlessService, Certificate, ClusterDomainClaim) and
 * caching's Image; and Istio's VirtualService kind (istioVirtualServiceCrd).
 */
export function knativeCrds(modules: KnativeModules): KubernetesObject[] {
  const resources = join(modules.serving, "config", "core", "300-resources");
  return [
    ...readdirSync(resources)
      .filter((f) => f.endsWith(".yaml"))
      .sort()
      .flatMap((f) => yamlDocs(join(resources, f))),
    ...["ingress", "serverlessservice", "certificate", "domain-claim"].flatMap((f) =>
      yamlDocs(join(modules.networking, "config", `${f}.yaml`)),
    ),
    ...yamlDocs(join(modules.caching, "config", "image.yaml")),
    istioVirtualServiceCrd(),
  ].filter((obj) => obj.kind === "CustomResourceDefinition");
}

/**
 * Istio's VirtualService kind, schema-less (any spec is kept). KServe writes Stopped=True for a
 * Knative-mode service only after reconciling its VirtualService, and it only does that when the
 * kind exists; nothing here reads a VirtualService. Not read from a module: the copy in KServe's
 * test/crds is not valid YAML (multi-line quoted descriptions indented less than their key), which
 * Go's lenient parser accepts and a conforming one does not.
 */
export function istioVirtualServiceCrd(): KubernetesObject {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: "virtualservices.networking.istio.io" },
    spec: {
      group: "networking.istio.io",
      names: { kind: "VirtualService", listKind: "VirtualServiceList", plural: "virtualservices", singular: "virtualservice" },
      scope: "Namespaced",
      versions: [
        {
          name: "v1beta1",
          served: true,
          storage: true,
          schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } },
          subresources: { status: {} },
        },
      ],
    },
  } as KubernetesObject;
}

/**
 * The knative-serving namespace, Knative's ConfigMaps as released (serving's config/core/configmaps
 * and networking's config-network) with two changes for a plane without network, and the
 * activator's Service (empty: no activator runs; Knative's ServerlessService only needs it to exist).
 */
export function knativeSystemObjects(modules: KnativeModules): KubernetesObject[] {
  const configmaps = join(modules.serving, "config", "core", "configmaps");
  const maps = [
    ...readdirSync(configmaps)
      .filter((f) => f.endsWith(".yaml"))
      .sort()
      .flatMap((f) => yamlDocs(join(configmaps, f))),
    ...yamlDocs(join(modules.networking, "config", "config-network.yaml")),
  ].filter((obj) => obj.kind === "ConfigMap");
  for (const cm of maps) {
    const data = ((cm as { data?: Record<string, string> }).data ??= {});
    // Documentation only; dropping it keeps the objects small.
    delete data["_example"];
    if (cm.metadata?.name === "config-deployment") {
      data["registries-skipping-tag-resolving"] = KNATIVE_REGISTRIES_SKIPPING_TAG_RESOLVING.join(",");
      // The released value is a ko:// build reference, not an image; kwok never pulls it either way.
      data["queue-sidecar-image"] = `registry.invalid/knative/queue:${KNATIVE_SERVING_VERSION}`;
    }
    cm.metadata = { name: cm.metadata?.name ?? "", namespace: KNATIVE_NAMESPACE, labels: cm.metadata?.labels ?? {} };
  }
  return [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: KNATIVE_NAMESPACE } },
    ...maps,
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "activator-service", namespace: KNATIVE_NAMESPACE, labels: { app: "activator" } },
      spec: { ports: [{ name: "http", port: 80, targetPort: 8012 }] },
    } as KubernetesObject,
  ];
}

/** The environment Knative's deployments give its controller and autoscaler pods, for processes on loopback. */
export function knativeEnv(component: "controller" | "autoscaler", profilingPort: number): Record<string, string> {
  return {
    SYSTEM_NAMESPACE: KNATIVE_NAMESPACE,
    POD_NAME: `knative-${component}`,
    METRICS_DOMAIN: "knative.dev/serving",
    // The default backend (Prometheus) would listen on :9090 on every interface.
    DEFAULT_METRICS_BACKEND: "none",
    PROFILING_PORT: String(profilingPort),
    ...(component === "autoscaler" ? { POD_IP: KNATIVE_AUTOSCALER_POD_IP } : {}),
  };
}

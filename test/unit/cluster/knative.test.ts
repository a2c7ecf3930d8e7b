// What startCluster({ knative: true }) and ({ kserveIngress: "gateway-api" }) change in the
// manifests they read from the Go modules, checked on small stand-in module trees (the real modules
// are read by the integration tests: test/integration/serverless.test.ts, kserve-routes.test.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import {
  KNATIVE_AUTOSCALER_POD_IP,
  knativeEnv,
  knativeSystemObjects,
  requiredVersion,
  type KnativeModules,
} from "../../support/knative.ts";
import { kserveConfigMap, startCluster } from "../../support/cluster.ts";

const servingGoMod = `module knative.dev/serving

go 1.22.7

require (
	github.com/google/go-cmp v0.6.0
	knative.dev/caching v0.0.0-20250117155405-a76aa7cd2bb6
	knative.dev/networking v0.0.0-20250117155906-67d1c274ba6a
	knative.dev/networking-extra v9.9.9
)
`;

test("the networking and caching versions come from serving's go.mod, the exact module only", () => {
  assert.equal(requiredVersion(servingGoMod, "knative.dev/networking"), "v0.0.0-20250117155906-67d1c274ba6a");
  assert.equal(requiredVersion(servingGoMod, "knative.dev/caching"), "v0.0.0-20250117155405-a76aa7cd2bb6");
  assert.equal(requiredVersion("require knative.dev/caching v1.2.3\n", "knative.dev/caching"), "v1.2.3");
  assert.throws(() => requiredVersion(servingGoMod, "knative.dev/pkg"), /does not require knative\.dev\/pkg/);
  assert.throws(() => requiredVersion("", "knative.dev/caching"), /does not require/);
  // a dot in the name is not a wildcard
  assert.throws(() => requiredVersion("require knativeXdev/caching v1.0.0\n", "knative.dev/caching"), /does not require/);
});

function fakeModules(): { modules: KnativeModules; cleanup: () => void } {
  const root = mkdtempSync(join(tmpdir(), "knative-unit-"));
  const serving = join(root, "serving");
  const networking = join(root, "networking");
  mkdirSync(join(serving, "config", "core", "configmaps"), { recursive: true });
  mkdirSync(join(networking, "config"), { recursive: true });
  const cm = (name: string, data: string) =>
    `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n  namespace: knative-serving\n  annotations:\n    knative.dev/example-checksum: "1"\ndata:\n${data}`;
  writeFileSync(
    join(serving, "config", "core", "configmaps", "deployment.yaml"),
    cm("config-deployment", "  _example: long docs\n  queue-sidecar-image: ko://knative.dev/serving/cmd/queue\n"),
  );
  writeFileSync(join(serving, "config", "core", "configmaps", "gc.yaml"), cm("config-gc", "  _example: docs\n"));
  writeFileSync(join(serving, "config", "core", "configmaps", "notes.txt"), "not yaml: [");
  writeFileSync(join(networking, "config", "config-network.yaml"), cm("config-network", "  _example: docs\n"));
  return {
    modules: { serving, networking, caching: join(root, "caching") },
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}

test("Knative's ConfigMaps: every registry skips tag resolution, no ko:// image, no docs, in knative-serving", () => {
  const { modules, cleanup } = fakeModules();
  try {
    const objects = knativeSystemObjects(modules) as {
      kind: string;
      metadata: { name: string; namespace?: string };
      data?: Record<string, string>;
    }[];
    assert.deepEqual(
      objects.map((o) => `${o.kind}/${o.metadata.name}`),
      [
        "Namespace/knative-serving",
        "ConfigMap/config-deployment",
        "ConfigMap/config-gc",
        "ConfigMap/config-network",
        "Service/activator-service",
      ],
    );
    const deployment = objects.find((o) => o.metadata.name === "config-deployment");
    const skipped = deployment?.data?.["registries-skipping-tag-resolving"]?.split(",") ?? [];
    for (const registry of ["registry.invalid", "index.docker.io", "kind.local"]) assert.ok(skipped.includes(registry), registry);
    assert.doesNotMatch(deployment?.data?.["queue-sidecar-image"] ?? "", /^ko:/);
    for (const o of objects.filter((x) => x.kind === "ConfigMap")) {
      assert.equal(o.data?.["_example"], undefined);
      assert.equal(o.metadata.namespace, "knative-serving");
    }
  } finally {
    cleanup();
  }
});

test("Knative's processes: system namespace, no Prometheus exporter on :9090, a non-loopback POD_IP for the autoscaler only", () => {
  const controller = knativeEnv("controller", 41234);
  assert.equal(controller["SYSTEM_NAMESPACE"], "knative-serving");
  assert.equal(controller["DEFAULT_METRICS_BACKEND"], "none");
  assert.equal(controller["PROFILING_PORT"], "41234");
  assert.equal(controller["POD_IP"], undefined);
  const autoscaler = knativeEnv("autoscaler", 41235);
  assert.equal(autoscaler["POD_IP"], KNATIVE_AUTOSCALER_POD_IP);
  assert.doesNotMatch(KNATIVE_AUTOSCALER_POD_IP, /^127\./);
});

function kserveModule(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "kserve-unit-"));
  mkdirSync(join(dir, "config", "configmap"), { recursive: true });
  writeFileSync(
    join(dir, "config", "configmap", "inferenceservice.yaml"),
    [
      "apiVersion: v1",
      "kind: ConfigMap",
      "metadata: {name: inferenceservice-config, namespace: kserve}",
      "data:",
      "  _example: docs",
      '  ingress: \'{"enableGatewayApi": false, "kserveIngressGateway": "kserve/kserve-ingress-gateway", "disableIstioVirtualHost": false}\'',
      "",
    ].join("\n"),
  );
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

test("KServe's ingress config: default unchanged, gateway-api enables the Gateway API, knative keeps the VirtualService", () => {
  const { dir, cleanup } = kserveModule();
  try {
    const ingress = (opts?: Parameters<typeof kserveConfigMap>[1]) =>
      JSON.parse(kserveConfigMap(dir, opts).data["ingress"] ?? "{}") as Record<string, unknown>;
    assert.deepEqual(ingress(), {
      enableGatewayApi: false,
      kserveIngressGateway: "kserve/kserve-ingress-gateway",
      disableIstioVirtualHost: true,
    });
    assert.deepEqual(ingress({ kserveIngress: "gateway-api" }), {
      enableGatewayApi: true,
      kserveIngressGateway: "kserve/kserve-ingress-gateway",
      disableIstioVirtualHost: true,
    });
    assert.equal(ingress({ knative: true })["disableIstioVirtualHost"], false);
    assert.equal(JSON.parse(kserveConfigMap(dir).data["deploy"] ?? "{}").defaultDeploymentMode, "Standard");
  } finally {
    cleanup();
  }
});

test("startCluster refuses wrong option values before it builds or starts anything", async () => {
  const dir = join(tmpdir(), `never-created-${process.pid}`);
  for (const opts of [
    { kserveIngress: "istio" },
    { kserveIngress: "" },
    { kserveIngress: "\u001b]0;owned\u0007" },
    { kserveIngress: "y".repeat(1_000_000) },
    { knative: "true" },
    { knative: 1 },
  ]) {
    await assert.rejects(
      startCluster({ ...(opts as object), dir, log: () => {} }),
      (err: Error) => /must be/.test(err.message) && err.message.length < 200 && !err.message.includes("\u001b"),
    );
  }
});

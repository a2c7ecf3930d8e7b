// Small helpers for integration tests against the local cluster.
import { setTimeout as sleep } from "node:timers/promises";
import { KubeConfig, KubernetesObjectApi, PatchStrategy, type KubernetesObject } from "@kubernetes/client-node";

export type Condition = { type: string; status: string; reason?: string; message?: string; severity?: string };

export type InferenceService = KubernetesObject & {
  spec?: unknown;
  status?: { conditions?: Condition[]; url?: string };
};

export function kubeClient(kubeconfigPath: string): { kc: KubeConfig; objects: KubernetesObjectApi } {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  return { kc, objects: KubernetesObjectApi.makeApiClient(kc) };
}

export function condition(obj: { status?: { conditions?: Condition[] } } | undefined, type: string): Condition | undefined {
  return obj?.status?.conditions?.find((c) => c.type === type);
}

/** Polls `check` until it returns a value other than undefined/false; fails with `what` and the last observation. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  opts: { timeoutMs?: number; intervalMs?: number; describe?: () => Promise<string> } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    await sleep(opts.intervalMs ?? 250);
  }
  const detail = opts.describe ? await opts.describe().catch((e: unknown) => String(e)) : "";
  throw new Error(
    `timed out waiting for ${what}${lastError ? `; last error: ${lastError instanceof Error ? lastError.message : String(lastError)}` : ""}${detail ? `\n${detail}` : ""}`,
  );
}

export async function readOrUndefined<T extends KubernetesObject>(
  objects: KubernetesObjectApi,
  spec: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } },
): Promise<T | undefined> {
  try {
    return await objects.read<T>(spec as never);
  } catch (err) {
    if ((err as { code?: number }).code === 404) return undefined;
    throw err;
  }
}

export async function mergePatch(objects: KubernetesObjectApi, obj: KubernetesObject): Promise<void> {
  await objects.patch(obj, undefined, undefined, "kserve-reclaimer-tests", undefined, PatchStrategy.MergePatch);
}

/** Instant PromQL query; returns the result vector. */
export async function promQuery(
  prometheusUrl: string,
  query: string,
): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const res = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(query)}`);
  const body = (await res.json()) as {
    status: string;
    error?: string;
    data?: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
  };
  if (body.status !== "success" || !body.data) throw new Error(`PromQL ${query}: ${body.error ?? res.status}`);
  return body.data.result;
}

export type GpuServiceOptions = { gpus?: number; labels?: Record<string, string>; annotations?: Record<string, string>; image?: string };

/**
 * The one InferenceService manifest of the tests, benchmarks and demo: a Standard-mode predictor
 * container requesting `gpus` nvidia.com/gpu (default 1), one replica. kwok "runs" its pod on a
 * GPU node; without the KServe controller nothing reconciles it, which the benchmarks rely on.
 */
export function gpuInferenceService(namespace: string, name: string, opts: GpuServiceOptions = {}): KubernetesObject & { spec: unknown } {
  const gpus = String(opts.gpus ?? 1);
  return {
    apiVersion: "serving.kserve.io/v1beta1",
    kind: "InferenceService",
    metadata: {
      name,
      namespace,
      labels: opts.labels ?? {},
      annotations: { "serving.kserve.io/deploymentMode": "Standard", ...opts.annotations },
    },
    spec: {
      predictor: {
        minReplicas: 1,
        maxReplicas: 1,
        containers: [
          {
            name: "kserve-container",
            image: opts.image ?? "registry.invalid/fake-llm:1.0",
            resources: { requests: { cpu: "100m", memory: "256Mi", "nvidia.com/gpu": gpus }, limits: { "nvidia.com/gpu": gpus } },
          },
        ],
      },
    },
  };
}

// InferenceService (serving.kserve.io/v1beta1) as the daemon reads it: a zod schema of only the
// fields read (the informer caches the parsed object, so unread fields cost no memory), the
// deployment mode, conditions, and the GPUs a running service holds.
//
// The schema is tolerant on purpose: an odd value in a field we read degrades to "absent" (with
// `.catch`) instead of dropping the whole service from the cache, where the daemon could neither
// act on it nor report it. Only metadata.name and metadata.namespace are required.
import { z } from "zod";
import { ObjectMeta, optString } from "./objectMeta.ts";
import type { ResourceRef } from "./informer.ts";

export const ISVC_GROUP = "serving.kserve.io";
export const ISVC_VERSION = "v1beta1";
export const ISVC_PLURAL = "inferenceservices";
export const ISVC_KIND = "InferenceService";
export const ISVC_API_VERSION = `${ISVC_GROUP}/${ISVC_VERSION}`;
export const ISVC_RESOURCE: ResourceRef = { group: ISVC_GROUP, version: ISVC_VERSION, plural: ISVC_PLURAL };

export const DEPLOYMENT_MODE_ANNOTATION = "serving.kserve.io/deploymentMode";
export const AUTOSCALER_CLASS_ANNOTATION = "serving.kserve.io/autoscalerClass";

/** A resource quantity as it comes from the API: "2", 2, "500m". */
const Quantity = z.union([z.string(), z.number()]);
const ResourceList = z.record(z.string(), Quantity).optional().catch(undefined);

export const ResourceRequirements = z.object({ limits: ResourceList, requests: ResourceList }).optional().catch(undefined);

export const Container = z.object({ name: optString, resources: ResourceRequirements });
export type Container = z.infer<typeof Container>;
const Containers = z.array(Container).optional().catch(undefined);
const Replicas = z.number().int().min(0).optional().catch(undefined);

export const WorkerSpec = z
  .object({
    containers: Containers,
    pipelineParallelSize: z.number().int().optional().catch(undefined),
    tensorParallelSize: z.number().int().optional().catch(undefined),
  })
  .optional()
  .catch(undefined);

/** Predictor implementations; each inlines a container (`resources`). From KServe v0.16 PredictorSpec. */
export const PREDICTOR_IMPLEMENTATIONS = [
  "model",
  "sklearn",
  "xgboost",
  "tensorflow",
  "pytorch",
  "triton",
  "onnx",
  "huggingface",
  "pmml",
  "lightgbm",
  "paddle",
] as const;
const Implementation = z.object({ resources: ResourceRequirements }).optional().catch(undefined);

const componentShape = {
  containers: Containers,
  minReplicas: Replicas,
  maxReplicas: Replicas,
};

export const PredictorSpec = z
  .object({
    ...componentShape,
    ...(Object.fromEntries(PREDICTOR_IMPLEMENTATIONS.map((k) => [k, Implementation])) as Record<
      (typeof PREDICTOR_IMPLEMENTATIONS)[number],
      typeof Implementation
    >),
    workerSpec: WorkerSpec,
  })
  .optional()
  .catch(undefined);

export const TransformerSpec = z.object(componentShape).optional().catch(undefined);

export const ExplainerSpec = z
  .object({ ...componentShape, art: Implementation })
  .optional()
  .catch(undefined);

export const Condition = z.object({
  type: z.string(),
  status: z.string(),
  reason: optString,
  message: optString,
  lastTransitionTime: optString,
});
export type Condition = z.infer<typeof Condition>;

export const InferenceService = z.object({
  apiVersion: optString,
  kind: optString,
  metadata: ObjectMeta,
  spec: z.object({ predictor: PredictorSpec, transformer: TransformerSpec, explainer: ExplainerSpec }).optional().catch(undefined),
  status: z
    .object({
      observedGeneration: z.number().optional().catch(undefined),
      deploymentMode: optString,
      url: optString,
      conditions: z.array(Condition).optional().catch(undefined),
    })
    .optional()
    .catch(undefined),
});
export type InferenceService = z.infer<typeof InferenceService>;

/** Parses a raw object (throws on a missing name/namespace): the informer's transform. */
export function parseInferenceService(raw: unknown): InferenceService {
  return InferenceService.parse(raw);
}

export type DeploymentMode = "Knative" | "Standard" | "ModelMesh";

/**
 * KServe's rule (v0.16 GetDeploymentMode): the mode recorded in status first, then the annotation
 * (legacy names Serverless -> Knative, RawDeployment -> Standard), then the cluster default from
 * the inferenceservice-config ConfigMap, which the caller passes (KServe v0.16's built-in default
 * is Standard). An unknown annotation value falls through to the default, as in KServe.
 */
export function deploymentModeOf(isvc: InferenceService, clusterDefault: DeploymentMode = "Standard"): DeploymentMode {
  const normalize = (v: string | undefined): DeploymentMode | undefined => {
    switch (v) {
      case "Serverless":
      case "Knative":
        return "Knative";
      case "RawDeployment":
      case "Standard":
        return "Standard";
      case "ModelMesh":
        return "ModelMesh";
      default:
        return undefined;
    }
  };
  return normalize(isvc.status?.deploymentMode) ?? normalize(isvc.metadata.annotations?.[DEPLOYMENT_MODE_ANNOTATION]) ?? clusterDefault;
}

function conditionOf(isvc: InferenceService, type: string): Condition | undefined {
  return isvc.status?.conditions?.find((c) => c.type === type);
}

/** `Ready=True`. */
export function isReady(isvc: InferenceService): boolean {
  return conditionOf(isvc, "Ready")?.status === "True";
}

/** KServe set `Stopped=True` (it acted on the stop annotation). */
export function isStoppedByKServe(isvc: InferenceService): boolean {
  return conditionOf(isvc, "Stopped")?.status === "True";
}

// ---------------------------------------------------------------------------------------------
// GPUs

const SUFFIX: Record<string, number> = {
  "": 1,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};
const DECIMAL_EXPONENT: Record<string, number> = { "": 0, m: -3, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const QUANTITY = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(?:[eE]([+-]?\d+))?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/;
/** The apiserver's own quantities are short; a longer text is not one anyone meant. */
const MAX_QUANTITY_TEXT = 64;

/** A Kubernetes quantity as a number; undefined when it does not parse or is not finite. */
export function parseQuantity(q: string | number): number | undefined {
  if (typeof q === "number") return Number.isFinite(q) ? q : undefined;
  const text = q.trim();
  if (text.length > MAX_QUANTITY_TEXT) return undefined;
  const m = QUANTITY.exec(text);
  if (!m) return undefined;
  const [, mantissa = "", exponent = "0", suffix = ""] = m;
  const decimal = DECIMAL_EXPONENT[suffix];
  // Decimal suffixes fold into the exponent, so "1.005k" is exactly 1005, not 1004.9999999999999.
  const n =
    decimal !== undefined
      ? Number(`${mantissa}e${Number(exponent) + decimal}`)
      : Number(`${mantissa}e${exponent}`) * (SUFFIX[suffix] ?? Number.NaN);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * More GPUs than one container or one InferenceService can hold on any real cluster: a request
 * beyond them is a mistake, reported, and not counted (GPU-hours must not be made up).
 */
export const MAX_GPUS_PER_CONTAINER = 1024;
export const MAX_GPUS_PER_SERVICE = 100_000;

export type GpuQuantity = { ok: true; gpus: number } | { ok: false; why: string };

/**
 * A GPU request or limit as a whole number of GPUs. Kubernetes only schedules extended resources
 * in whole units, so "1.5", "500m", "-1", "1e400" or "abc" are reported, never rounded.
 */
export function parseGpuQuantity(q: string | number): GpuQuantity {
  const shown = typeof q === "number" ? String(q) : JSON.stringify(q.length > 32 ? `${q.slice(0, 32)}…` : q);
  const n = parseQuantity(q);
  if (n === undefined) return { ok: false, why: `${shown} is not a Kubernetes quantity` };
  if (n < 0) return { ok: false, why: `${shown} is negative` };
  if (!Number.isInteger(n)) return { ok: false, why: `${shown} is not a whole number of GPUs` };
  if (n > MAX_GPUS_PER_CONTAINER) return { ok: false, why: `${shown} is more than ${MAX_GPUS_PER_CONTAINER} GPUs for one container` };
  return { ok: true, gpus: n };
}

/** `<vendor>/gpu` extended resources, plus Habana Gaudi (KServe's DefaultGPUResourceTypeList). */
function isGpuResource(name: string): boolean {
  return name.endsWith("/gpu") || name === "habana.ai/gaudi";
}

/**
 * GPUs of one container: per GPU resource, its limit, else its request; summed over resources.
 * A value that is not a whole number of GPUs counts 0 and is described in `problems`.
 */
export function containerGpus(resources: z.infer<typeof ResourceRequirements>, problems?: string[], where = "container"): number {
  if (!resources) return 0;
  const names = new Set([...Object.keys(resources.limits ?? {}), ...Object.keys(resources.requests ?? {})]);
  let total = 0;
  for (const name of names) {
    if (!isGpuResource(name)) continue;
    const fromLimit = resources.limits?.[name] !== undefined;
    const q = resources.limits?.[name] ?? resources.requests?.[name];
    if (q === undefined) continue;
    const parsed = parseGpuQuantity(q);
    if (parsed.ok) total += parsed.gpus;
    else problems?.push(`${where}: ${fromLimit ? "limits" : "requests"}.${name} ${parsed.why}`);
  }
  return total;
}

export type ComponentGpus = {
  component: "predictor" | "transformer" | "explainer";
  /** GPUs of one replica (all its containers). */
  perReplica: number;
  /** Replicas held while running (see replicasAtRest). */
  replicas: number;
  /** Multi-node: GPUs of the worker pods (head node counted in perReplica). */
  workers: number;
  total: number;
};

export type GpuOptions = {
  /** The cluster's default deployment mode (inferenceservice-config); KServe v0.16 default Standard. */
  defaultDeploymentMode?: DeploymentMode;
};

/**
 * Replicas a running component holds at rest. `minReplicas` defaults to 1. For 0:
 * - Knative (Serverless): 0 means scale to zero; at rest no pod holds a GPU, so stopping reclaims
 *   nothing more than KServe's autoscaler already does. Counts 0.
 * - Standard (RawDeployment): with the default HPA autoscaler KServe raises minReplicas below 1
 *   to 1 (hpa_reconciler.go; kserve#3514), so 0 counts 1. With autoscalerClass `none` the
 *   Deployment gets replicas = minReplicas (0 pods), with `keda` KEDA may scale to zero: 0 counts 0.
 */
export function replicasAtRest(minReplicas: number | undefined, mode: DeploymentMode, autoscalerClass: string | undefined): number {
  const min = minReplicas ?? 1;
  if (min >= 1) return min;
  if (mode === "Standard" && (autoscalerClass === undefined || autoscalerClass === "" || autoscalerClass === "hpa")) return 1;
  return 0;
}

/**
 * Port of KServe v0.16 computeRayNodeAndGPUs (components/predictor.go) for a predictor with a
 * workerSpec: the total GPU count is tensorParallelSize x pipelineParallelSize (each default 1;
 * a ServingRuntime may set them, which this does not read), split into a head pod and
 * rayNodeCount-1 worker pods. Returns the head's and the workers' GPUs.
 */
export function multiNodeGpus(
  headGpus: number,
  workerGpus: number,
  tensorParallelSize = 1,
  pipelineParallelSize = 1,
): { head: number; workers: number; nodes: number } {
  const total = Math.max(1, tensorParallelSize) * Math.max(1, pipelineParallelSize);
  const nodesFor = (gpus: number, per: number) => (per === 0 ? 1 : Math.ceil(gpus / per));
  if (workerGpus > 0) {
    let nodes = nodesFor(total, workerGpus);
    let head = headGpus;
    let worker = workerGpus;
    if (headGpus > 0) {
      if (nodesFor(total, headGpus) === 1) nodes = 1;
    } else {
      head = total - workerGpus * (nodes - 1);
    }
    if (nodes === 1) {
      worker = 0;
      head = total;
    }
    return { head, workers: worker * (nodes - 1), nodes };
  }
  if (headGpus > 0) {
    const remaining = total - headGpus;
    const nodes = remaining > 0 ? remaining + 1 : 1;
    return { head: headGpus, workers: nodes - 1, nodes };
  }
  // No GPU declared anywhere: KServe assigns one GPU to the head and to each worker.
  return { head: 1, workers: total - 1, nodes: total };
}

/** Per-component breakdown of gpusOf; requests that are not whole GPU counts are described in `problems`. */
export function gpuBreakdown(isvc: InferenceService, opts: GpuOptions = {}, problems?: string[]): ComponentGpus[] {
  const mode = deploymentModeOf(isvc, opts.defaultDeploymentMode);
  // ModelMesh: the model runs in the ServingRuntime's shared pods, not in pods of this service.
  if (mode === "ModelMesh") return [];
  const autoscaler = isvc.metadata.annotations?.[AUTOSCALER_CLASS_ANNOTATION];
  const out: ComponentGpus[] = [];
  const spec = isvc.spec;
  const gpus = (resources: z.infer<typeof ResourceRequirements>, where: string) => containerGpus(resources, problems, where);

  const predictor = spec?.predictor;
  if (predictor) {
    let implementation = 0;
    for (const key of PREDICTOR_IMPLEMENTATIONS) implementation += gpus(predictor[key]?.resources, `predictor.${key}`);
    const containers = (predictor.containers ?? []).map((c, i) => gpus(c.resources, `predictor.containers[${c.name ?? i}]`));
    let perReplica = implementation + containers.reduce((a, b) => a + b, 0);
    let workers = 0;
    const ws = predictor.workerSpec;
    if (ws) {
      // The head's GPU count is its main container's (the implementation's, else containers[0]).
      const headMain = implementation > 0 ? implementation : (containers[0] ?? 0);
      const sidecars = perReplica - headMain;
      const mn = multiNodeGpus(
        headMain,
        gpus(ws.containers?.[0]?.resources, "predictor.workerSpec.containers[0]"),
        ws.tensorParallelSize,
        ws.pipelineParallelSize,
      );
      perReplica = mn.head + sidecars;
      workers = mn.workers;
    }
    const replicas = replicasAtRest(predictor.minReplicas, mode, autoscaler);
    out.push({ component: "predictor", perReplica, replicas, workers, total: perReplica * replicas + (replicas > 0 ? workers : 0) });
  }
  for (const component of ["transformer", "explainer"] as const) {
    const c = spec?.[component];
    if (!c) continue;
    let perReplica = (c.containers ?? []).reduce((a, x, i) => a + gpus(x.resources, `${component}.containers[${x.name ?? i}]`), 0);
    if (component === "explainer") perReplica += gpus(spec?.explainer?.art?.resources, "explainer.art");
    const replicas = replicasAtRest(c.minReplicas, mode, autoscaler);
    out.push({ component, perReplica, replicas, workers: 0, total: perReplica * replicas });
  }
  return out;
}

export type GpuCount = {
  /** Whole GPUs, 0..MAX_GPUS_PER_SERVICE: what accounting may use. */
  gpus: number;
  /** Why some requests were not counted (empty when all were whole GPU counts). */
  problems: string[];
};

/**
 * GPUs a running InferenceService holds at rest, from its spec: every component's containers (the
 * predictor implementation's, `containers[]`, and for a multi-node predictor the head and worker
 * pods), any `<vendor>/gpu` resource (limit, else request), times the replicas it keeps at rest
 * (replicasAtRest). Init containers are not counted. Requests that are not whole GPU counts count
 * 0; a total beyond MAX_GPUS_PER_SERVICE counts 0 as a whole, since no part of it can be trusted.
 */
export function gpuCount(isvc: InferenceService, opts: GpuOptions = {}): GpuCount {
  const problems: string[] = [];
  const total = gpuBreakdown(isvc, opts, problems).reduce((a, c) => a + c.total, 0);
  if (!Number.isSafeInteger(total) || total > MAX_GPUS_PER_SERVICE) {
    problems.push(
      `${Number.isFinite(total) ? total : "an unbounded number of"} GPUs in total (replicas times GPUs per replica) is more than ${MAX_GPUS_PER_SERVICE}`,
    );
    return { gpus: 0, problems };
  }
  return { gpus: total, problems };
}

export function gpusOf(isvc: InferenceService, opts: GpuOptions = {}): number {
  return gpuCount(isvc, opts).gpus;
}

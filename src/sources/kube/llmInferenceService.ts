// LLMInferenceService (serving.kserve.io/v1alpha2, KServe v0.17) as the daemon reads it: a zod
// schema of only the fields read, the GPUs its workloads hold, and whether KServe stopped it.
//
// Tolerant like inferenceService.ts: an odd value in a field we read degrades to "absent" (with
// `.catch`); only metadata.name and metadata.namespace are required.
//
// Workloads (KServe v0.17 pkg/controller/v1alpha2/llmisvc): the main workload, and with
// `spec.prefill` a prefill workload, each either a Deployment (no `worker`: every pod is
// `template`) or, when `worker` is set, a LeaderWorkerSet of `replicas` groups of
// `parallelism.GetSize()` pods: one leader (`template`, or `worker` when there is no template)
// and size-1 workers. GPUs per pod come only from container resources in the spec; GPUs that
// `spec.baseRefs` configs add are not visible here (see llmGpuCount).
import { z } from "zod";
import { ObjectMeta, optString } from "./objectMeta.ts";
import type { ResourceRef } from "./informer.ts";
import { Condition, Container, containerGpus, type GpuCount, MAX_GPUS_PER_SERVICE } from "./inferenceService.ts";

export const LLMISVC_GROUP = "serving.kserve.io";
export const LLMISVC_VERSION = "v1alpha2";
export const LLMISVC_PLURAL = "llminferenceservices";
export const LLMISVC_KIND = "LLMInferenceService";
export const LLMISVC_API_VERSION = `${LLMISVC_GROUP}/${LLMISVC_VERSION}`;
export const LLMISVC_RESOURCE: ResourceRef = { group: LLMISVC_GROUP, version: LLMISVC_VERSION, plural: LLMISVC_PLURAL };

/** `app.kubernetes.io/part-of` on every pod of an LLMInferenceService (constants.go LLMInferenceServicePartOfValue). */
export const LLMISVC_PART_OF = "llminferenceservice";
/** Label carrying the LLMInferenceService's name on its pods. */
export const LLMISVC_NAME_LABEL = "app.kubernetes.io/name";
/** `app.kubernetes.io/component` of the scheduler (EPP) pods, which hold no GPUs. */
export const LLMISVC_SCHEDULER_COMPONENT = "llminferenceservice-router-scheduler";

const Int = z.number().int().optional().catch(undefined);
const Replicas = z.number().int().min(0).optional().catch(undefined);
const Containers = z.array(Container).optional().catch(undefined);

export const ParallelismSpec = z
  .object({
    tensor: Int,
    pipeline: Int,
    data: Int,
    dataLocal: Int,
    expert: z.boolean().optional().catch(undefined),
  })
  .optional()
  .catch(undefined);
export type ParallelismSpec = z.infer<typeof ParallelismSpec>;

/** The part of a core PodSpec read here. */
const PodSpec = z.object({ containers: Containers }).optional().catch(undefined);
type PodSpec = z.infer<typeof PodSpec>;

const workloadShape = {
  replicas: Replicas,
  parallelism: ParallelismSpec,
  template: PodSpec,
  worker: PodSpec,
};

export const WorkloadSpec = z.object(workloadShape).optional().catch(undefined);
export type WorkloadSpec = z.infer<typeof WorkloadSpec>;

export const LLMInferenceService = z.object({
  apiVersion: optString,
  kind: optString,
  metadata: ObjectMeta,
  spec: z
    .object({
      ...workloadShape,
      prefill: WorkloadSpec,
      baseRefs: z
        .array(z.object({ name: optString }))
        .optional()
        .catch(undefined),
    })
    .optional()
    .catch(undefined),
  status: z
    .object({
      url: optString,
      conditions: z.array(Condition).optional().catch(undefined),
    })
    .optional()
    .catch(undefined),
});
export type LLMInferenceService = z.infer<typeof LLMInferenceService>;

/** Parses a raw object (throws on a missing name/namespace): the informer's transform. */
export function parseLLMInferenceService(raw: unknown): LLMInferenceService {
  return LLMInferenceService.parse(raw);
}

/**
 * Pods per LeaderWorkerSet group, leader included. KServe v0.17 ParallelismSpec.GetSize
 * (llm_inference_service_types_func.go:76-91): data parallel (data > 0 or dataLocal > 0) gives
 * max(max(data ?? 1, 1) / max(dataLocal ?? 1, 1), 1) with integer division; else pipeline
 * parallel (pipeline > 0) gives pipeline; else nil, which LeaderWorkerSet defaults to 1.
 */
export function groupSize(parallelism: ParallelismSpec): number {
  if (!parallelism) return 1;
  const { data, dataLocal, pipeline } = parallelism;
  if ((data ?? 0) > 0 || (dataLocal ?? 0) > 0) {
    return Math.max(Math.floor(Math.max(data ?? 1, 1) / Math.max(dataLocal ?? 1, 1)), 1);
  }
  if (pipeline !== undefined && pipeline > 0) return pipeline;
  return 1;
}

export type LlmWorkloadGpus = {
  workload: "main" | "prefill";
  /** Deployment replicas, or LeaderWorkerSet groups (spec nil -> 1). */
  replicas: number;
  /** Pods per group (leader included); 1 for a single-node workload. */
  groupSize: number;
  /** A `worker` is set: a LeaderWorkerSet instead of a Deployment. */
  multiNode: boolean;
  /** GPUs of one pod of a single-node workload, or of one leader pod. */
  leaderGpus: number;
  /** GPUs of one worker pod (0 for a single-node workload). */
  workerGpus: number;
  total: number;
};

const MAX_SHOWN_NAME = 64;
const MAX_SHOWN_REFS = 8;
const shown = (name: string) => (name.length > MAX_SHOWN_NAME ? `${name.slice(0, MAX_SHOWN_NAME)}…` : name);

function podGpus(pod: PodSpec, where: string, problems?: string[]): number {
  let total = 0;
  (pod?.containers ?? []).forEach((c, i) => {
    total += containerGpus(c.resources, problems, `${where}.containers[${c.name === undefined ? i : shown(c.name)}]`);
  });
  return total;
}

function workloadGpus(workload: "main" | "prefill", w: NonNullable<WorkloadSpec>, prefix: string, problems?: string[]): LlmWorkloadGpus {
  const replicas = w.replicas ?? 1;
  if (w.worker === undefined) {
    const leaderGpus = podGpus(w.template, `${prefix}template`, problems);
    return { workload, replicas, groupSize: 1, multiNode: false, leaderGpus, workerGpus: 0, total: replicas * leaderGpus };
  }
  const size = groupSize(w.parallelism);
  const workerGpus = podGpus(w.worker, `${prefix}worker`, problems);
  // Without a template the LeaderWorkerSet has no leader template: the leader is a worker pod.
  const leaderGpus = w.template === undefined ? workerGpus : podGpus(w.template, `${prefix}template`, problems);
  return {
    workload,
    replicas,
    groupSize: size,
    multiNode: true,
    leaderGpus,
    workerGpus,
    total: replicas * (leaderGpus + (size - 1) * workerGpus),
  };
}

/**
 * GPUs per workload, from the spec: the main workload when `spec.template` or `spec.worker` is
 * set, the prefill workload when `spec.prefill` is set. Per pod: any `<vendor>/gpu` resource
 * (and habana.ai/gaudi), limit else request, summed over containers (init containers are not
 * read). Quantities that are not whole GPU counts count 0 and are described in `problems`.
 */
export function llmGpuBreakdown(llm: LLMInferenceService, problems?: string[]): LlmWorkloadGpus[] {
  const spec = llm.spec;
  const out: LlmWorkloadGpus[] = [];
  if (!spec) return out;
  if (spec.template !== undefined || spec.worker !== undefined) out.push(workloadGpus("main", spec, "spec.", problems));
  if (spec.prefill !== undefined) out.push(workloadGpus("prefill", spec.prefill, "spec.prefill.", problems));
  return out;
}

/**
 * GPUs a running LLMInferenceService holds, from its spec (llmGpuBreakdown summed). A total that
 * is not a safe integer or beyond MAX_GPUS_PER_SERVICE counts 0 as a whole. When the spec
 * declares no GPU and names `spec.baseRefs`, the count (0) is flagged: those configs are merged
 * into the workloads by KServe and may carry the GPUs.
 */
export function llmGpuCount(llm: LLMInferenceService): GpuCount {
  const problems: string[] = [];
  const workloads = llmGpuBreakdown(llm, problems);
  const total = workloads.reduce((a, w) => a + w.total, 0);
  const declared = problems.length > 0 || workloads.some((w) => w.leaderGpus > 0 || w.workerGpus > 0);
  const baseRefs = llm.spec?.baseRefs ?? [];
  if (!declared && baseRefs.length > 0) {
    const names = baseRefs.slice(0, MAX_SHOWN_REFS).map((r) => (r.name === undefined ? "?" : shown(r.name)));
    if (baseRefs.length > MAX_SHOWN_REFS) names.push(`${baseRefs.length - MAX_SHOWN_REFS} more`);
    problems.push(
      `GPUs may come from spec.baseRefs (${names.join(", ")}), which this count does not read; the live pods' count is used while they run`,
    );
  }
  if (!Number.isSafeInteger(total) || total > MAX_GPUS_PER_SERVICE) {
    problems.push(
      `${Number.isFinite(total) ? total : "an unbounded number of"} GPUs in total (replicas times GPUs per group) is more than ${MAX_GPUS_PER_SERVICE}`,
    );
    return { gpus: 0, problems };
  }
  return { gpus: total, problems };
}

/**
 * KServe v0.17 writes no `Stopped` condition for this kind: a processed stop shows as `Ready=False`
 * with reason `Stopped` (the workload and router conditions carry the reason; Ready follows them).
 */
export function llmStoppedByKServe(conditions: Condition[] | undefined): boolean {
  const ready = conditions?.find((c) => c.type === "Ready");
  return ready?.status === "False" && ready.reason === "Stopped";
}

// A service the daemon governs, as it keeps it in its informer cache: an InferenceService or an
// LLMInferenceService, reduced to what decisions read (no spec, no managedFields: memory), with GPUs
// and deployment mode computed once when the object arrives, so every reconcile and every status
// reads the same figures. The two kinds differ only here (how an object becomes a Service) and in
// SERVICE_KINDS (where it lives in the API, how KServe says it stopped); everything downstream
// reads Service.
import {
  type Condition,
  type DeploymentMode,
  deploymentModeOf,
  gpuCount,
  ISVC_API_VERSION,
  ISVC_KIND,
  ISVC_RESOURCE,
  parseInferenceService,
} from "./inferenceService.ts";
import type { ResourceRef } from "./informer.ts";
import {
  LLMISVC_API_VERSION,
  LLMISVC_KIND,
  LLMISVC_RESOURCE,
  llmGpuCount,
  llmStoppedByKServe,
  parseLLMInferenceService,
} from "./llmInferenceService.ts";

export type ServiceKind = typeof ISVC_KIND | typeof LLMISVC_KIND;

/** Where each kind lives in the API, and the short name its keys and the CLI use (kubectl's own short names). */
export const SERVICE_KINDS: Record<ServiceKind, { resource: ResourceRef; apiVersion: string; short: string }> = {
  InferenceService: { resource: ISVC_RESOURCE, apiVersion: ISVC_API_VERSION, short: "isvc" },
  LLMInferenceService: { resource: LLMISVC_RESOURCE, apiVersion: LLMISVC_API_VERSION, short: "llmisvc" },
};
export const ALL_SERVICE_KINDS: readonly ServiceKind[] = [ISVC_KIND, LLMISVC_KIND];

/** Which service, of which kind: what a write or an Event names. */
export type ServiceId = { kind: ServiceKind; namespace: string; name: string };

/**
 * The daemon's key for a service: "namespace/name" for an InferenceService (as it always was, in
 * logs and metrics), "namespace/llmisvc/name" for an LLMInferenceService, so one of each kind may
 * share a name. Names are DNS labels, so the "/" cannot be ambiguous.
 */
export function serviceKey(kind: ServiceKind, namespace: string, name: string): string {
  return kind === ISVC_KIND ? `${namespace}/${name}` : `${namespace}/${SERVICE_KINDS[kind].short}/${name}`;
}

/** serviceKey's inverse. */
export function parseServiceKey(k: string): ServiceId {
  const [namespace = "", second = "", third] = k.split("/", 3);
  if (third !== undefined && second === SERVICE_KINDS.LLMInferenceService.short) return { kind: LLMISVC_KIND, namespace, name: third };
  return { kind: ISVC_KIND, namespace, name: k.slice(namespace.length + 1) };
}

export type Service = {
  kind: ServiceKind;
  metadata: {
    name: string;
    namespace: string;
    uid?: string | undefined;
    resourceVersion?: string | undefined;
    creationTimestamp?: string | undefined;
    labels?: Record<string, string> | undefined;
    annotations?: Record<string, string> | undefined;
  };
  status?: { conditions?: Condition[] | undefined } | undefined;
  /** Whole GPUs it holds at rest (see gpuCount). */
  gpus: number;
  /** Why some GPU requests were not counted; empty when all were. */
  gpuProblems: readonly string[];
  mode: DeploymentMode;
  /** KServe acted on the stop annotation: Stopped=True for an InferenceService, Ready=False reason Stopped for an LLMInferenceService. */
  stoppedByKServe: boolean;
  /** Why KServe would ignore the stop annotation on it (it is left alone and reported); undefined: it honours it. */
  unsupported?: string | undefined;
};

/**
 * kubectl apply's copy of the whole object as last applied: often the largest annotation by far,
 * read by no decision, so it stays out of the cache.
 */
const LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";

/**
 * KServe acted on the stop annotation: an InferenceService gets Stopped=True; an LLMInferenceService
 * (v0.17) has no Stopped condition, its Ready turns False with reason Stopped. Kind absent: an InferenceService.
 */
export function kserveStopped(kind: string | undefined, conditions: readonly Condition[]): boolean {
  if (kind === LLMISVC_KIND) return llmStoppedByKServe([...conditions]);
  return conditions.some((c) => c.type === "Stopped" && c.status === "True");
}

/** The metadata kept in the cache: the fields decisions read, without kubectl's last-applied copy. */
function keptMetadata(m: Service["metadata"]): Service["metadata"] {
  const { name, namespace, uid, resourceVersion, creationTimestamp, labels } = m;
  let annotations = m.annotations;
  if (annotations !== undefined && LAST_APPLIED in annotations) {
    const { [LAST_APPLIED]: _dropped, ...rest } = annotations;
    annotations = rest;
  }
  return { name, namespace, uid, resourceVersion, creationTimestamp, labels, annotations };
}

/** The InferenceService informer's transform (throws only without name/namespace). */
export function toService(raw: unknown, clusterDefault: DeploymentMode): Service {
  const isvc = parseInferenceService(raw);
  const conditions = isvc.status?.conditions ?? [];
  const { gpus, problems } = gpuCount(isvc, { defaultDeploymentMode: clusterDefault });
  const mode = deploymentModeOf(isvc, clusterDefault);
  return {
    kind: ISVC_KIND,
    metadata: keptMetadata(isvc.metadata),
    status: { conditions },
    gpus,
    gpuProblems: problems,
    mode,
    stoppedByKServe: kserveStopped(ISVC_KIND, conditions),
    unsupported: mode === "ModelMesh" ? "ModelMesh mode: KServe ignores serving.kserve.io/stop" : undefined,
  };
}

/**
 * The LLMInferenceService informer's transform. `servedVersion`: the version the apiserver serves it
 * as; KServe honours the stop annotation on this kind from v0.17.0, the release that serves v1alpha2.
 */
export function toLlmService(raw: unknown, servedVersion: string = LLMISVC_RESOURCE.version): Service {
  const llm = parseLLMInferenceService(raw);
  const conditions = llm.status?.conditions ?? [];
  const { gpus, problems } = llmGpuCount(llm);
  return {
    kind: LLMISVC_KIND,
    metadata: keptMetadata(llm.metadata),
    status: { conditions },
    gpus,
    gpuProblems: problems,
    // its workloads are Deployments or LeaderWorkerSets that KServe deletes on stop, as in Standard mode
    mode: "Standard",
    stoppedByKServe: kserveStopped(LLMISVC_KIND, conditions),
    unsupported:
      servedVersion === LLMISVC_RESOURCE.version
        ? undefined
        : `this KServe serves LLMInferenceService as ${servedVersion} only (before v0.17.0), and ignores serving.kserve.io/stop on it`,
  };
}

/** The cluster default as configured: KServe's legacy name Serverless is Knative. */
export function deploymentModeNamed(name: string): DeploymentMode {
  if (name === "ModelMesh") return "ModelMesh";
  return name === "Knative" || name === "Serverless" ? "Knative" : "Standard";
}

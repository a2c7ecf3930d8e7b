// An InferenceService as the daemon keeps it in its informer cache: only what decisions read
// (no spec, no managedFields: memory), with GPUs and deployment mode computed once when the object
// arrives, so every reconcile and every status reads the same figures.
import { type Condition, type DeploymentMode, deploymentModeOf, gpuCount, parseInferenceService } from "./inferenceService.ts";

export type Service = {
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
};

/**
 * kubectl apply's copy of the whole object as last applied: often the largest annotation by far,
 * read by no decision, so it stays out of the cache.
 */
const LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";

/** The informer's transform (throws only without name/namespace). */
export function toService(raw: unknown, clusterDefault: DeploymentMode): Service {
  const isvc = parseInferenceService(raw);
  const { name, namespace, uid, resourceVersion, creationTimestamp, labels } = isvc.metadata;
  let annotations = isvc.metadata.annotations;
  if (annotations !== undefined && LAST_APPLIED in annotations) {
    const { [LAST_APPLIED]: _dropped, ...rest } = annotations;
    annotations = rest;
  }
  const { gpus, problems } = gpuCount(isvc, { defaultDeploymentMode: clusterDefault });
  return {
    metadata: { name, namespace, uid, resourceVersion, creationTimestamp, labels, annotations },
    status: { conditions: isvc.status?.conditions ?? [] },
    gpus,
    gpuProblems: problems,
    mode: deploymentModeOf(isvc, clusterDefault),
  };
}

/** The cluster default as configured: KServe's legacy name Serverless is Knative. */
export function deploymentModeNamed(name: string): DeploymentMode {
  if (name === "ModelMesh") return "ModelMesh";
  return name === "Knative" || name === "Serverless" ? "Knative" : "Standard";
}

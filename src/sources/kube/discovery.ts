// Whether the apiserver serves a custom resource. A daemon upgraded before its new CRD is applied
// (ClusterServingSchedule came later than ServingSchedule) must not wait forever on an informer
// whose list can only ever answer 404: it would never sync, so it would never decide anything.
import { CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import type { ResourceRef } from "./informer.ts";

/**
 * "absent" only when the apiserver says so (the group/version or the resource is not there); any
 * other failure (apiserver not reachable yet, a 403) is "unknown", and the caller's informer retries
 * with backoff as for any resource.
 */
export async function resourceServed(kubeConfig: KubeConfig, resource: ResourceRef): Promise<"served" | "absent" | "unknown"> {
  try {
    const list = await kubeConfig.makeApiClient(CustomObjectsApi).getAPIResources({ group: resource.group, version: resource.version });
    return list.resources.some((r) => r.name === resource.plural) ? "served" : "absent";
  } catch (err) {
    return (err as { code?: unknown }).code === 404 ? "absent" : "unknown";
  }
}

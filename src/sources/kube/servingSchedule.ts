// ServingSchedule objects as the informer caches them. The spec is kept as it came (unknown) and
// validated by the daemon with the API schema (src/api/servingSchedule.ts), so an invalid schedule
// stays visible and can be reported in its status and Events instead of vanishing from the cache.
// Only the metadata the daemon reads is kept (no managedFields).
import { z } from "zod";
import { ObjectMeta } from "./objectMeta.ts";
import {
  API_VERSION,
  CLUSTER_KIND,
  CLUSTER_PLURAL,
  GROUP,
  KIND,
  PLURAL,
  ServingScheduleStatus,
  VERSION,
} from "../../api/servingSchedule.ts";
import type { ResourceRef } from "./informer.ts";

export const SERVING_SCHEDULE_RESOURCE: ResourceRef = { group: GROUP, version: VERSION, plural: PLURAL };
export const CLUSTER_SERVING_SCHEDULE_RESOURCE: ResourceRef = { group: GROUP, version: VERSION, plural: CLUSTER_PLURAL };
export { API_VERSION as SERVING_SCHEDULE_API_VERSION, KIND as SERVING_SCHEDULE_KIND, CLUSTER_KIND as CLUSTER_SERVING_SCHEDULE_KIND };

/**
 * The namespace a ClusterServingSchedule is cached under: none. Empty, because no namespace can be
 * named so, and then "namespace/name" keys ("/nights") stay unique across both kinds.
 */
export const CLUSTER_SCOPE = "";

export const ScheduleObject = z.object({
  metadata: ObjectMeta,
  spec: z.unknown().optional(),
  status: z.unknown().optional(),
});
export type ScheduleObject = z.infer<typeof ScheduleObject>;

/** The informer's transform for ServingSchedules (throws only without name/namespace). */
export function parseScheduleObject(raw: unknown): ScheduleObject {
  return ScheduleObject.parse(raw);
}

const ClusterScheduleObject = ScheduleObject.extend({ metadata: ObjectMeta.omit({ namespace: true }) });

/** The informer's transform for ClusterServingSchedules: the same object, cached under CLUSTER_SCOPE. */
export function parseClusterScheduleObject(raw: unknown): ScheduleObject {
  const obj = ClusterScheduleObject.parse(raw);
  return { ...obj, metadata: { ...obj.metadata, namespace: CLUSTER_SCOPE } };
}

export function isClusterSchedule(obj: ScheduleObject): boolean {
  return obj.metadata.namespace === CLUSTER_SCOPE;
}

/**
 * The status last written (by this daemon or a predecessor), when it reads as one; anything else is
 * no status, and the next write replaces it.
 */
export function scheduleStatusOf(obj: ScheduleObject): ServingScheduleStatus | undefined {
  const parsed = ServingScheduleStatus.safeParse(obj.status);
  return parsed.success ? parsed.data : undefined;
}

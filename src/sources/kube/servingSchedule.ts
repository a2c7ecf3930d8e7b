// ServingSchedule objects as the informer caches them. The spec is kept as it came (unknown) and
// validated by the daemon with the API schema (src/api/servingSchedule.ts), so an invalid schedule
// stays visible and can be reported in its status and Events instead of vanishing from the cache.
// Only the metadata the daemon reads is kept (no managedFields).
import { z } from "zod";
import { ObjectMeta } from "./objectMeta.ts";
import { API_VERSION, GROUP, KIND, PLURAL, VERSION } from "../../api/servingSchedule.ts";
import type { ResourceRef } from "./informer.ts";

export const SERVING_SCHEDULE_RESOURCE: ResourceRef = { group: GROUP, version: VERSION, plural: PLURAL };
export { API_VERSION as SERVING_SCHEDULE_API_VERSION, KIND as SERVING_SCHEDULE_KIND };

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

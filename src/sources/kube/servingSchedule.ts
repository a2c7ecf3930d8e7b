// ServingSchedule objects as the informer caches them. The spec is kept as it came (unknown) and
// validated by the daemon with the API schema (src/api/servingSchedule.ts), so an invalid schedule
// stays visible and can be reported in its status and Events instead of vanishing from the cache.
// Only the metadata the daemon reads is kept (no managedFields).
import { z } from 'zod';
import { API_VERSION, GROUP, KIND, PLURAL, VERSION } from '../../api/servingSchedule.ts';
import type { ResourceRef } from './informer.ts';

export const SERVING_SCHEDULE_RESOURCE: ResourceRef = { group: GROUP, version: VERSION, plural: PLURAL };
export { API_VERSION as SERVING_SCHEDULE_API_VERSION, KIND as SERVING_SCHEDULE_KIND };

const optString = z.string().optional().catch(undefined);

export const ScheduleObject = z.object({
  metadata: z.object({
    name: z.string().min(1),
    namespace: z.string().min(1),
    uid: optString,
    resourceVersion: optString,
    generation: z.number().optional().catch(undefined),
    labels: z.record(z.string(), z.string()).optional().catch(undefined),
    annotations: z.record(z.string(), z.string()).optional().catch(undefined),
    creationTimestamp: optString,
    deletionTimestamp: optString,
  }),
  spec: z.unknown().optional(),
  status: z.unknown().optional(),
});
export type ScheduleObject = z.infer<typeof ScheduleObject>;

/** The informer's transform for ServingSchedules (throws only without name/namespace). */
export function parseScheduleObject(raw: unknown): ScheduleObject {
  return ScheduleObject.parse(raw);
}

// The metadata the daemon reads from any object it caches, shared by every informer's schema.
// Unreadable optional fields become undefined instead of dropping the object (managedFields and
// the rest are not kept: memory).
import { z } from "zod";

export const optString = z.string().optional().catch(undefined);
export const stringMap = z.record(z.string(), z.string()).optional().catch(undefined);

export const ObjectMeta = z.object({
  name: z.string().min(1),
  namespace: z.string().min(1),
  uid: optString,
  resourceVersion: optString,
  generation: z.number().optional().catch(undefined),
  labels: stringMap,
  annotations: stringMap,
  creationTimestamp: optString,
  deletionTimestamp: optString,
});

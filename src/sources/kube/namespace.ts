// Namespaces as the daemon caches them: only their labels, which ClusterServingSchedules select on.
import { z } from "zod";
import type { ResourceRef } from "./informer.ts";
import { optString, stringMap } from "./objectMeta.ts";

export const NAMESPACE_RESOURCE: ResourceRef = { group: "", version: "v1", plural: "namespaces" };

export const NamespaceObject = z.object({
  metadata: z.object({ name: z.string().min(1), resourceVersion: optString, labels: stringMap }),
});
export type NamespaceObject = z.infer<typeof NamespaceObject>;

/** The informer's transform for Namespaces (throws only without a name). */
export function parseNamespaceObject(raw: unknown): NamespaceObject {
  return NamespaceObject.parse(raw);
}

// Kubernetes LabelSelector semantics, and which ServingSchedule governs an InferenceService.
import type { LabelSelector } from "../api/servingSchedule.ts";

export function selectorMatches(selector: LabelSelector, labels: Record<string, string> | undefined): boolean {
  const have = labels ?? {};
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (have[key] !== value) return false;
  }
  for (const req of selector.matchExpressions ?? []) {
    const present = Object.hasOwn(have, req.key);
    const value = have[req.key];
    const values = req.values ?? [];
    switch (req.operator) {
      case "In":
        if (!present || !values.includes(value as string)) return false;
        break;
      case "NotIn":
        if (present && values.includes(value as string)) return false;
        break;
      case "Exists":
        if (!present) return false;
        break;
      case "DoesNotExist":
        if (present) return false;
        break;
    }
  }
  return true;
}

export type Candidate = { namespace: string; name: string; createdAt: number; selector: LabelSelector };

/**
 * When two schedules select one service, exactly one governs: the oldest (it was there first, and a
 * newcomer must not silently take over a running policy), ties broken by name. The rest are reported.
 */
export function chooseGoverning<C extends Candidate>(
  candidates: readonly C[],
  labels: Record<string, string> | undefined,
): { governing: C | undefined; overruled: C[] } {
  const matching = candidates
    .filter((c) => selectorMatches(c.selector, labels))
    .sort((a, b) => a.createdAt - b.createdAt || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const [governing, ...overruled] = matching;
  return { governing, overruled };
}

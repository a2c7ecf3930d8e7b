// When a stopped service's GPUs are free: not at the stop annotation, not at KServe's Stopped=True
// (it comes once the Deployment or Knative Service is deleted), but when the last predictor pod is
// gone (deleted, or every one terminated). Pure: the reconciler hands in the pod count and the clock.

/**
 * Where a stopped service is on the way to free GPUs. `stoppedAt`: the stop as the cluster records
 * it (the daemon's state annotation), else when the daemon first saw the service stopped.
 */
export type Release =
  | { kind: "releasing"; stoppedAt: number; since: number; pods: number }
  | { kind: "released"; stoppedAt: number; at: number };

/**
 * The next release state. `stopped`: the service is stopped (its stop annotation is set);
 * `holding`: its pods that are not yet gone. A running service has none. A stopped service whose
 * pods are already gone is released at once; otherwise at the first instant none is left. Pods that
 * come back while it stays stopped (someone scaled a Deployment by hand) make it releasing again.
 */
export function nextRelease(
  previous: Release | undefined,
  stopped: boolean,
  holding: number,
  stoppedAt: number | undefined,
  now: number,
): Release | undefined {
  if (!stopped) return undefined;
  const since = previous?.stoppedAt ?? (stoppedAt !== undefined && stoppedAt <= now ? stoppedAt : now);
  if (!(holding > 0)) return previous?.kind === "released" ? previous : { kind: "released", stoppedAt: since, at: now };
  if (previous?.kind === "releasing") return previous.pods === holding ? previous : { ...previous, pods: holding };
  return { kind: "releasing", stoppedAt: since, since: now, pods: holding };
}

/** GPUs count as reclaimed only once released; without a pod source (tests, old behaviour) a stop is a release. */
export function isReleased(release: Release | undefined): boolean {
  return release?.kind === "released";
}

/**
 * Seconds from the stop to the release, for the histogram: only for a release this process saw
 * happen (the service was releasing, or it stopped it just now), never for one it found done at
 * start-up, whose stop may be days old.
 */
export function releaseSeconds(previous: Release | undefined, next: Release | undefined, stoppedHere: boolean): number | undefined {
  if (next?.kind !== "released" || previous?.kind === "released") return undefined;
  if (previous === undefined && !stoppedHere) return undefined;
  return Math.max(0, (next.at - next.stoppedAt) / 1000);
}

/** The instant after which pods still there are worth a Warning: the stop plus the confirmation timeout. */
export function releaseDeadline(release: Release | undefined, timeoutMs: number): number | undefined {
  return release?.kind === "releasing" ? release.stoppedAt + timeoutMs : undefined;
}

// The shared step of `wake` and `sleep`: read one InferenceService and the schedules that may govern it,
// decide as the daemon would, refuse what the daemon keeps its hands off, and write the patch.
// The patch carries the resourceVersion it was decided on, as the daemon's does: a change made in
// between (a person, the daemon) is never overwritten; the service is read and decided again.
import { EXCLUDE, STOP } from "../api/annotations.ts";
import type { Target } from "./arguments.ts";
import { CommandError, ConflictError, type ClusterClient, readScheduleScope } from "./cluster.ts";
import { type Evaluation, evaluate } from "./decision.ts";

/** Decisions made afresh after a 409 before giving up: a service changing this often is being fought over. */
const MAX_CONFLICT_RETRIES = 3;

/** The daemon leaves these alone; wake and sleep refuse them (nothing is written). */
export function handsOff(e: Evaluation): string | undefined {
  if (e.decision.skip === "Excluded")
    return `${EXCLUDE}: "true": the daemon leaves it alone (remove that annotation to let it manage the service, or set ${STOP} by hand)`;
  if (e.decision.skip === "Unsupported") return `ModelMesh mode: KServe ignores ${STOP}, so the daemon cannot stop or start it`;
  return undefined;
}

export async function annotateService(
  client: ClusterClient,
  target: Target,
  now: number,
  patch: (e: Evaluation) => Record<string, string | null>,
  warn: (line: string) => void = () => {},
): Promise<Evaluation> {
  const namespace = target.namespace || client.defaultNamespace;
  for (let attempt = 0; ; attempt++) {
    const isvc = await client.getInferenceService(namespace, target.name);
    const scope = await readScheduleScope(client, namespace, warn);
    const e = evaluate(isvc, scope.entries, now, { namespaceLabels: scope.namespaceLabels.get(namespace) });
    const refused = handsOff(e);
    if (refused) throw new CommandError(`${e.key}: not changed: ${refused}`);
    try {
      await client.patchAnnotations(namespace, target.name, patch(e), isvc.metadata.resourceVersion);
      return e;
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err;
      if (attempt >= MAX_CONFLICT_RETRIES) {
        throw new CommandError(
          `${e.key}: not changed: it was modified by someone else ${attempt + 1} times while deciding (the daemon or another person); check it with \`status ${e.key}\` and try again`,
        );
      }
    }
  }
}

// The shared step of `wake` and `sleep`: read one InferenceService and its namespace's schedules,
// decide as the daemon would, refuse what the daemon keeps its hands off, and write the patch.
// The patch carries the resourceVersion it was decided on, as the daemon's does: a change made in
// between (a person, the daemon) is never overwritten; the service is read and decided again.
import { CommandError, ConflictError, type ClusterClient } from "./cluster.ts";
import { compileEntry, evaluate, handsOff, type Evaluation } from "./inspect.ts";

/** Decisions made afresh after a 409 before giving up: a service changing this often is being fought over. */
export const MAX_CONFLICT_RETRIES = 3;

export async function annotateService(
  client: ClusterClient,
  target: { namespace: string; name: string },
  now: number,
  patch: (e: Evaluation) => Record<string, string | null>,
): Promise<Evaluation> {
  const namespace = target.namespace || client.defaultNamespace;
  for (let attempt = 0; ; attempt++) {
    const isvc = await client.getInferenceService(namespace, target.name);
    const schedules = (await client.listSchedules(namespace)).map(compileEntry);
    const e = evaluate(isvc, schedules, now);
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

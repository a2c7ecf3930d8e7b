// The shared step of `wake` and `sleep`: read one InferenceService and its namespace's schedules,
// decide as the daemon would, refuse what the daemon keeps its hands off, and write the patch.
import { CommandError, type ClusterClient } from "./cluster.ts";
import { compileEntry, evaluate, handsOff, type Evaluation } from "./inspect.ts";

export async function annotateService(
  client: ClusterClient,
  target: { namespace: string; name: string },
  now: number,
  patch: (e: Evaluation) => Record<string, string | null>,
): Promise<Evaluation> {
  const namespace = target.namespace || client.defaultNamespace;
  const isvc = await client.getInferenceService(namespace, target.name);
  const schedules = (await client.listSchedules(namespace)).map(compileEntry);
  const e = evaluate(isvc, schedules, now);
  const refused = handsOff(e);
  if (refused) throw new CommandError(`${e.key}: not changed: ${refused}`);
  await client.patchAnnotations(namespace, target.name, patch(e));
  return e;
}

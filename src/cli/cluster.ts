// The cluster adapter of the CLI (`status`, `wake`, `sleep`, `plan --cluster`): loads credentials
// the way `run` does (--kubeconfig, KUBECONFIG, in-cluster, ~/.kube/config; --context), reads
// InferenceServices and ServingSchedules, patches annotations. Every failure becomes a CommandError
// with one line for people (not found, forbidden, cannot connect); nothing else is printed.
import { CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { apiFailure } from "../act/apiError.ts";
import { AnnotationPatcher } from "../act/patcher.ts";
import { WriteLimiter } from "../act/writeLimiter.ts";
import { KubeConfigError, loadKubeConfig } from "../sources/kube/client.ts";
import { ISVC_RESOURCE, parseInferenceService, type InferenceService } from "../sources/kube/inferenceService.ts";
import { parseScheduleObject, SERVING_SCHEDULE_RESOURCE, type ScheduleObject } from "../sources/kube/servingSchedule.ts";
import type { ResourceRef } from "../sources/kube/informer.ts";
import type { FlagTable } from "./flags.ts";
import { EXIT_INVALID, PROGRAM, type CliIO } from "./io.ts";
import { visible } from "./visible.ts";

/** A failure to report in one line on stderr, exit 1. */
export class CommandError extends Error {
  override name = "CommandError";
}

/** 409: the object changed after it was read (the patch carried the resourceVersion it was decided on). */
export class ConflictError extends CommandError {
  override name = "ConflictError";
}

/** The flags every cluster command takes: which namespace, and how to connect. */
export const CLUSTER_OPTIONS = {
  namespace: { type: "string", short: "n", value: "NAME", description: "namespace", defaultText: "the kubeconfig context's, else default" },
  kubeconfig: {
    type: "string",
    value: "FILE",
    description: "kubeconfig file",
    defaultText: "$KUBECONFIG, the in-cluster service account, ~/.kube/config",
  },
  context: { type: "string", value: "NAME", description: "kubeconfig context to use", defaultText: "the current context" },
} as const satisfies FlagTable;

const REQUEST_TIMEOUT_MS = 30_000;

export type ClusterClient = {
  /** The namespace of the kubeconfig context, else "default". */
  defaultNamespace: string;
  server: string;
  getInferenceService(namespace: string, name: string): Promise<InferenceService>;
  listInferenceServices(namespace: string | undefined): Promise<InferenceService[]>;
  listSchedules(namespace: string | undefined): Promise<ScheduleObject[]>;
  /** With `resourceVersion`, the patch applies only to that version of the object; else ConflictError. */
  patchAnnotations(
    namespace: string,
    name: string,
    annotations: Record<string, string | null>,
    resourceVersion?: string,
  ): Promise<Record<string, string>>;
};

export function connect(
  flags: { kubeconfig?: string | undefined; context?: string | undefined },
  env: NodeJS.ProcessEnv = process.env,
): ClusterClient {
  let kc: KubeConfig;
  try {
    kc = loadKubeConfig({ kubeconfig: flags.kubeconfig, context: flags.context, env }).kubeConfig;
  } catch (err) {
    if (err instanceof KubeConfigError) throw new CommandError(err.message);
    throw err;
  }
  const server = kc.getCurrentCluster()?.server ?? "(unknown server)";
  const context = kc.getContextObject(kc.getCurrentContext());
  const api = kc.makeApiClient(CustomObjectsApi);
  const coords = (r: ResourceRef) => ({ group: r.group, version: r.version, plural: r.plural });
  const call = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(Object.assign(new Error(`no answer within ${REQUEST_TIMEOUT_MS / 1000}s`), { timeout: true })),
        REQUEST_TIMEOUT_MS,
      );
      timer.unref();
    });
    try {
      return await Promise.race([f(), timeout]);
    } catch (err) {
      throw new CommandError(describeFailure(what, server, err));
    } finally {
      clearTimeout(timer);
    }
  };
  /** Every namespace when `namespace` is undefined. */
  const list = <T>(kind: string, resource: ResourceRef, namespace: string | undefined, parse: (raw: unknown) => T): Promise<T[]> =>
    call(`${kind}${namespace ? ` in namespace ${namespace}` : ""}`, async () => {
      const answer = (
        namespace === undefined
          ? await api.listClusterCustomObject(coords(resource))
          : await api.listNamespacedCustomObject({ ...coords(resource), namespace })
      ) as { items?: unknown[] };
      return (answer.items ?? []).map(parse);
    });
  return {
    defaultNamespace: context?.namespace || "default",
    server,
    getInferenceService: (namespace, name) =>
      call(`InferenceService ${namespace}/${name}`, async () =>
        parseInferenceService(await api.getNamespacedCustomObject({ ...coords(ISVC_RESOURCE), namespace, name })),
      ),
    listInferenceServices: (namespace) => list("InferenceServices", ISVC_RESOURCE, namespace, parseInferenceService),
    listSchedules: (namespace) => list("ServingSchedules", SERVING_SCHEDULE_RESOURCE, namespace, parseScheduleObject),
    patchAnnotations: async (namespace, name, annotations, resourceVersion) => {
      const patcher = new AnnotationPatcher({ kubeConfig: kc, limiter: new WriteLimiter(), transientRetries: 1 });
      const r = await call(`InferenceService ${namespace}/${name}`, () =>
        patcher.patchAnnotations(namespace, name, annotations, { resourceVersion }),
      );
      if (r.kind === "ok") return r.annotations;
      if (r.kind === "conflict") throw new ConflictError(`InferenceService ${namespace}/${name} changed while deciding: ${r.message}`);
      const code = r.kind === "notFound" ? 404 : r.code;
      throw new CommandError(
        describeFailure(`InferenceService ${namespace}/${name}`, server, {
          code,
          message: r.message,
          body: { reason: r.kind === "error" ? r.reason : undefined, message: r.message },
        }),
      );
    },
  };
}

/** One line for people: what failed and why. */
export function describeFailure(what: string, server: string, err: unknown): string {
  if ((err as { timeout?: unknown } | null)?.timeout === true)
    return `cannot reach the Kubernetes API at ${server}: no answer within ${REQUEST_TIMEOUT_MS / 1000}s`;
  const f = apiFailure(err);
  const firstLine = (s: string) => s.split("\n")[0]?.trim() ?? "";
  switch (f.code) {
    case undefined:
      return `cannot reach the Kubernetes API at ${server}: ${networkCause(err) ?? firstLine(f.message)}`;
    case 401:
      return `not authenticated to ${server} (401): check the kubeconfig's credentials`;
    case 403:
      return `forbidden: ${firstLine(f.message)}`;
    case 404: {
      // a missing kind (CRD not installed) and a missing object both answer 404
      if (
        /the server could not find the requested resource/i.test(f.message) ||
        (f.reason === "NotFound" && !/ not found/.test(f.message))
      ) {
        return `${what}: the API is not served by ${server} (is the CRD installed?)`;
      }
      return `${what} not found`;
    }
    default:
      return `${what}: ${f.code}${f.reason ? ` ${f.reason}` : ""}: ${firstLine(f.message)}`;
  }
}

/** The innermost cause under "fetch failed": "connect ECONNREFUSED 127.0.0.1:59999", "bad port". */
function networkCause(err: unknown): string | undefined {
  let found: string | undefined;
  let e: unknown = err;
  for (let depth = 0; depth < 5 && typeof e === "object" && e !== null; depth++) {
    const { message } = e as { message?: unknown };
    if (depth > 0 && typeof message === "string" && message !== "") found = message;
    e = (e as { cause?: unknown }).cause;
  }
  return found;
}

/** Runs a cluster command body; a CommandError becomes one line on stderr and exit 1. */
export async function reporting(command: string, io: CliIO, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof CommandError) {
      io.err(`${PROGRAM} ${command}: ${visible(err.message)}\n`);
      return EXIT_INVALID;
    }
    throw err;
  }
}

// The cluster adapter of the CLI (`status`, `wake`, `sleep`, `plan --cluster`): loads credentials
// the way `run` does (--kubeconfig, KUBECONFIG, in-cluster, ~/.kube/config; --context), reads
// InferenceServices, ServingSchedules, ClusterServingSchedules and Namespace labels, patches annotations. Every failure becomes a CommandError
// with one line for people (not found, forbidden, cannot connect); nothing else is printed.
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { apiFailure } from "../act/apiError.ts";
import { AnnotationPatcher } from "../act/patcher.ts";
import { type CompiledEntry, compileEntry } from "../decide/schedules.ts";
import { selectorMatches } from "../decide/selector.ts";
import { WriteLimiter } from "../act/writeLimiter.ts";
import { KubeConfigError, loadKubeConfig } from "../sources/kube/client.ts";
import { ISVC_RESOURCE, parseInferenceService, type InferenceService } from "../sources/kube/inferenceService.ts";
import { parseNamespaceObject } from "../sources/kube/namespace.ts";
import {
  CLUSTER_SERVING_SCHEDULE_RESOURCE,
  parseClusterScheduleObject,
  parseScheduleObject,
  SERVING_SCHEDULE_RESOURCE,
  type ScheduleObject,
} from "../sources/kube/servingSchedule.ts";
import type { ResourceRef } from "../sources/kube/informer.ts";
import type { FlagTable } from "../config/flags.ts";
import { EXIT_INVALID, PROGRAM, type CliIO } from "./io.ts";
import { visible } from "../report/visible.ts";

/** A failure to report in one line on stderr, exit 1. */
export class CommandError extends Error {
  override name = "CommandError";
  /** The API's HTTP status, when the failure was an answer: lets a caller go on without what it may not read. */
  readonly status: number | undefined;
  constructor(message: string, status?: number) {
    super(message);
    this.status = status;
  }
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
  /** Under namespace CLUSTER_SCOPE, as the daemon caches them, so compileEntry and governingOf treat them alike. */
  listClusterSchedules(): Promise<ScheduleObject[]>;
  /** Labels by namespace name: the one namespace, or every namespace when undefined. */
  namespaceLabels(namespace: string | undefined): Promise<Map<string, Record<string, string>>>;
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
  const core = kc.makeApiClient(CoreV1Api);
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
      throw new CommandError(describeFailure(what, server, err), apiFailure(err).code);
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
    listClusterSchedules: () => list("ClusterServingSchedules", CLUSTER_SERVING_SCHEDULE_RESOURCE, undefined, parseClusterScheduleObject),
    namespaceLabels: (namespace) =>
      call(namespace === undefined ? "Namespaces" : `Namespace ${namespace}`, async () => {
        const found =
          namespace === undefined
            ? ((await core.listNamespace()).items ?? []).map(parseNamespaceObject)
            : [parseNamespaceObject(await core.readNamespace({ name: namespace }))];
        return new Map(found.map((n) => [n.metadata.name, n.metadata.labels ?? {}]));
      }),
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

/** The schedules that may govern the services of `namespace` (every namespace when undefined), compiled. */
export type ScheduleScope = { entries: CompiledEntry[]; namespaceLabels: Map<string, Record<string, string>> };

/**
 * Reads what the daemon decides from: the namespaced ServingSchedules, the ClusterServingSchedules
 * and the labels of the namespaces they may reach. A namespace editor has no cluster rights, and
 * answering "no schedule governs it" would be worse than saying less: so a 403 on the cluster-wide
 * reads is one warning and the namespaced schedules alone. A 404 there is an install without the
 * cluster kind, which has no cluster schedules to miss. With a namespace, only the cluster
 * schedules that reach it are kept (and the invalid ones, which might have been meant to).
 */
export async function readScheduleScope(
  client: ClusterClient,
  namespace: string | undefined,
  warn: (line: string) => void,
): Promise<ScheduleScope> {
  const tolerated = async <T>(read: () => Promise<T>, none: T, what: string): Promise<T> => {
    try {
      return await read();
    } catch (err) {
      if (!(err instanceof CommandError)) throw err;
      if (err.status === 404) return none;
      if (err.status !== 403) throw err;
      warn(`cluster-wide schedules could not be read (${what} forbidden): only ServingSchedules are considered`);
      return none;
    }
  };
  const [own, cluster] = await Promise.all([
    client.listSchedules(namespace),
    tolerated(() => client.listClusterSchedules(), [], "listing ClusterServingSchedules"),
  ]);
  const namespaceLabels =
    cluster.length === 0
      ? new Map<string, Record<string, string>>()
      : await tolerated(
          () => client.namespaceLabels(namespace),
          new Map<string, Record<string, string>>(),
          namespace === undefined ? "listing Namespaces" : `reading Namespace ${namespace}`,
        );
  const reaches = (e: CompiledEntry) => {
    if (namespace === undefined || !e.ok || e.namespaceSelector === undefined) return true;
    const labels = namespaceLabels.get(namespace);
    return labels !== undefined && selectorMatches(e.namespaceSelector, labels);
  };
  return { entries: [...own, ...cluster].map(compileEntry).filter(reaches), namespaceLabels };
}

/** A warning printer that says each distinct line once, however often a retry meets it. */
export function warnOnce(io: CliIO): (line: string) => void {
  const said = new Set<string>();
  return (line) => {
    if (said.has(line)) return;
    said.add(line);
    io.err(`warning: ${visible(line)}\n`);
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

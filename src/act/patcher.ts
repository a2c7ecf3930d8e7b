// Merge-patches annotations on an InferenceService: the daemon's only write to a service.
// - The patch carries the resourceVersion the caller decided on, so the apiserver answers 409
//   Conflict when the object changed meanwhile; the caller re-decides on fresh data (or passes
//   onConflict to re-check and retry here).
// - Every write goes through the shared WriteLimiter (QPS/burst, concurrency, drain on SIGTERM).
// - Never throws: the result says what happened.
// - The patch itself goes over KubeHttp (one keep-alive agent, a body written here, the answer
//   read for its resourceVersion and annotations only) when the user is certificate or token
//   based; otherwise (exec, auth providers, proxies, test fakes) over client-node's
//   CustomObjectsApi. Both paths give the same results.
import { CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig } from "@kubernetes/client-node";
import { ISVC_RESOURCE, parseInferenceService, type InferenceService } from "../sources/kube/inferenceService.ts";
import type { ResourceRef } from "../sources/kube/informer.ts";
import { noopLogger, sleepOn, systemTimers, type Logger, type Timers } from "../sources/kube/runtime.ts";
import { apiFailure } from "./apiError.ts";
import { KubeHttp } from "./kubeHttp.ts";
import { LimiterClosedError, type WriteLimiter } from "./writeLimiter.ts";

export const FIELD_MANAGER = "kserve-reclaimer";

export type PatchResult =
  | { kind: "ok"; resourceVersion: string; annotations: Record<string, string> }
  | { kind: "conflict"; message: string }
  | { kind: "notFound"; message: string }
  | { kind: "error"; code: number | undefined; reason: string | undefined; message: string };

export type PatchOptions = {
  /** Precondition: the resourceVersion the decision was made on. 409 when it is stale. */
  resourceVersion?: string | undefined;
  /**
   * On 409: called with the object re-read from the apiserver; return the annotations to apply
   * now (patched with the fresh resourceVersion), or null to give up with `conflict`. Without it a
   * 409 returns `conflict` at once.
   */
  onConflict?: (fresh: InferenceService) => Record<string, string | null> | null;
  /** Default 3. */
  maxConflictRetries?: number;
  /** Server-side dry run: validated and admitted, not persisted. */
  dryRun?: boolean;
};

export type PatcherOptions = {
  kubeConfig: KubeConfig;
  limiter: WriteLimiter;
  resource?: ResourceRef;
  fieldManager?: string;
  logger?: Logger;
  timers?: Timers;
  /** Retries of transient failures (network, 429, 5xx) before returning `error`. Default 2. */
  transientRetries?: number;
};

const TRANSIENT = new Set([429, 500, 502, 503, 504]);

/**
 * The patch's answer as metadata only: the daemon reads resourceVersion and annotations, and the
 * apiserver then encodes no spec or status (KServe's status grows with every component and URL).
 * Plain JSON after the comma for an apiserver that does not know the form.
 */
const METADATA_ONLY = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json";

export class AnnotationPatcher {
  private readonly kubeConfig: KubeConfig;
  private readonly http: KubeHttp | undefined;
  private apiClient: CustomObjectsApi | undefined;
  private readonly limiter: WriteLimiter;
  private readonly resource: ResourceRef;
  private readonly fieldManager: string;
  private readonly logger: Logger;
  private readonly timers: Timers;
  private readonly transientRetries: number;

  constructor(opts: PatcherOptions) {
    this.kubeConfig = opts.kubeConfig;
    this.http = KubeHttp.forConfig(opts.kubeConfig);
    this.limiter = opts.limiter;
    this.resource = opts.resource ?? ISVC_RESOURCE;
    this.fieldManager = opts.fieldManager ?? FIELD_MANAGER;
    this.logger = opts.logger ?? noopLogger;
    this.timers = opts.timers ?? systemTimers;
    this.transientRetries = opts.transientRetries ?? 2;
  }

  /** Sets (string) or removes (null) annotations. Never throws. */
  async patchAnnotations(
    namespace: string,
    name: string,
    annotations: Record<string, string | null>,
    opts: PatchOptions = {},
  ): Promise<PatchResult> {
    let wanted: Record<string, string | null> = annotations;
    let resourceVersion = opts.resourceVersion;
    const maxConflicts = opts.maxConflictRetries ?? 3;
    for (let conflicts = 0; ; conflicts++) {
      const result = await this.patchOnce(namespace, name, wanted, resourceVersion, opts.dryRun === true);
      if (result.kind !== "conflict" || !opts.onConflict || conflicts >= maxConflicts) return result;
      const fresh = await this.read(namespace, name);
      if (fresh.kind !== "ok") return fresh.kind === "notFound" ? fresh : result;
      let next: Record<string, string | null> | null;
      try {
        next = opts.onConflict(fresh.object);
      } catch (err) {
        this.logger.error("patcher: onConflict failed", { namespace, name, error: err instanceof Error ? err.message : String(err) });
        return result;
      }
      if (next === null) return result;
      wanted = next;
      resourceVersion = fresh.object.metadata.resourceVersion;
    }
  }

  /**
   * A boundary is a few seconds away that may write to `services` services: open the connections
   * its burst will use (no more than the limiter lets run at once). Only the lean path has its own
   * connections to warm. Never rejects.
   */
  warm(services: number): Promise<void> {
    return this.http?.warm(Math.min(services, this.limiter.concurrency)) ?? Promise.resolve();
  }

  /** Waits for every queued and in-flight write of the shared limiter (SIGTERM). */
  drain(timeoutMs?: number): Promise<void> {
    return this.limiter.drain(timeoutMs);
  }

  /** client-node's client: reads on conflict, and every call when KubeHttp cannot serve the user. */
  private get api(): CustomObjectsApi {
    this.apiClient ??= this.kubeConfig.makeApiClient(CustomObjectsApi);
    return this.apiClient;
  }

  private async read(
    namespace: string,
    name: string,
  ): Promise<{ kind: "ok"; object: InferenceService } | Exclude<PatchResult, { kind: "ok" }>> {
    try {
      const raw: unknown =
        this.http === undefined
          ? await this.api.getNamespacedCustomObject({ ...this.coords(), namespace, name })
          : JSON.parse((await this.http.request("GET", this.objectPath(namespace, name))).body);
      return { kind: "ok", object: parseInferenceService(raw) };
    } catch (err) {
      return this.failure(err);
    }
  }

  private objectPath(namespace: string, name: string): string {
    const { group, version, plural } = this.resource;
    return `/apis/${group}/${version}/namespaces/${encodeURIComponent(namespace)}/${plural}/${encodeURIComponent(name)}`;
  }

  private coords() {
    return { group: this.resource.group, version: this.resource.version, plural: this.resource.plural };
  }

  private failure(err: unknown): Exclude<PatchResult, { kind: "ok" }> {
    const f = apiFailure(err);
    if (f.code === 409) return { kind: "conflict", message: f.message };
    if (f.code === 404) return { kind: "notFound", message: f.message };
    return { kind: "error", code: f.code, reason: f.reason, message: f.message };
  }

  private async patchOnce(
    namespace: string,
    name: string,
    annotations: Record<string, string | null>,
    resourceVersion: string | undefined,
    dryRun: boolean,
  ): Promise<PatchResult> {
    for (let attempt = 0; ; attempt++) {
      let result: PatchResult;
      try {
        const updated = await this.limiter.run(() => this.send(namespace, name, annotations, resourceVersion, dryRun));
        return {
          kind: "ok",
          resourceVersion: updated.metadata?.resourceVersion ?? "",
          annotations: updated.metadata?.annotations ?? {},
        };
      } catch (err) {
        if (err instanceof LimiterClosedError) return { kind: "error", code: undefined, reason: "ShuttingDown", message: err.message };
        result = this.failure(err);
      }
      const transient = result.kind === "error" && (result.code === undefined || TRANSIENT.has(result.code));
      if (!transient || attempt >= this.transientRetries) {
        if (result.kind === "error") {
          this.logger.warn("patcher: patch failed", { namespace, name, code: result.code, error: result.message });
        }
        return result;
      }
      await sleepOn(this.timers, 200 * 2 ** attempt);
    }
  }

  /** One merge patch; throws what apiFailure reads. */
  private async send(
    namespace: string,
    name: string,
    annotations: Record<string, string | null>,
    resourceVersion: string | undefined,
    dryRun: boolean,
  ): Promise<PatchedMeta> {
    if (this.http === undefined) {
      const metadata: Record<string, unknown> = { annotations };
      if (resourceVersion) metadata.resourceVersion = resourceVersion;
      return (await this.api.patchNamespacedCustomObject(
        { ...this.coords(), namespace, name, body: { metadata }, fieldManager: this.fieldManager, dryRun: dryRun ? "All" : undefined },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      )) as PatchedMeta;
    }
    let path = `${this.objectPath(namespace, name)}?fieldManager=${encodeURIComponent(this.fieldManager)}`;
    if (dryRun) path += "&dryRun=All";
    const rv = resourceVersion ? `"resourceVersion":${JSON.stringify(resourceVersion)},` : "";
    const body = `{"metadata":{${rv}"annotations":${JSON.stringify(annotations)}}}`;
    const res = await this.http.request("PATCH", path, body, PatchStrategy.MergePatch, METADATA_ONLY);
    return JSON.parse(res.body) as PatchedMeta;
  }
}

type PatchedMeta = { metadata?: { resourceVersion?: string; annotations?: Record<string, string> } };

// Writes ServingSchedule and ClusterServingSchedule `status` (namespace CLUSTER_SCOPE) through the status subresource, and only when it changed: the
// desired status is compared, as canonical JSON (sorted keys, no undefined), with the status the
// caller read from the cache, and with what this writer wrote last (the cache may not have caught
// up with our own write yet). At rest nothing is written.
//
// The write is a JSON merge patch on /status computed as the difference between the current and
// the desired status: changed keys set, removed keys set to null, arrays replaced whole. No
// resourceVersion precondition: the daemon (leader) owns the status. Every status is capped in
// size first (capStatus).
import { CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig } from "@kubernetes/client-node";
import type { ResourceRef } from "../sources/kube/informer.ts";
import { CLUSTER_SCOPE, CLUSTER_SERVING_SCHEDULE_RESOURCE, SERVING_SCHEDULE_RESOURCE } from "../sources/kube/servingSchedule.ts";
import { noopLogger, type Logger } from "../sources/kube/runtime.ts";
import { apiFailure } from "./apiError.ts";
import { LimiterClosedError, type WriteLimiter } from "./writeLimiter.ts";
import { FIELD_MANAGER } from "./patcher.ts";

export { SERVING_SCHEDULE_RESOURCE };

export type StatusWriteResult =
  | { kind: "unchanged" }
  | { kind: "ok"; resourceVersion: string }
  | { kind: "notFound"; message: string }
  | { kind: "error"; code: number | undefined; message: string };

/** The object as the caller last saw it (from the informer), or undefined when unknown. */
export type CurrentObject = { metadata?: { resourceVersion?: string | undefined } | undefined; status?: unknown } | undefined;

type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** JSON with object keys sorted at every level and undefined dropped: equal values, equal strings. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(normalize(value)) ?? "null";
}

function normalize(value: unknown): JsonValue | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value === "boolean" || typeof value === "string") return value;
  if (typeof value === "number") return Number.isFinite(value) ? value : null;
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map((v) => normalize(v) ?? null);
  if (isPlainObject(value)) {
    const out: Record<string, JsonValue> = {};
    for (const key of Object.keys(value).sort()) {
      const v = normalize(value[key]);
      if (v !== undefined) out[key] = v;
    }
    return out;
  }
  return undefined;
}

/**
 * RFC 7386 merge patch turning `from` into `to` (both JSON objects): keys only in `from` become
 * null, nested objects recurse, everything else (arrays included) is replaced when it differs.
 */
export function createMergePatch(from: unknown, to: unknown): Record<string, unknown> {
  const a = isPlainObject(from) ? from : {};
  const b = isPlainObject(to) ? to : {};
  const patch: Record<string, unknown> = {};
  for (const key of Object.keys(a)) {
    if (a[key] !== undefined && b[key] === undefined) patch[key] = null;
  }
  for (const key of Object.keys(b)) {
    const bv = b[key];
    if (bv === undefined) continue;
    const av = a[key];
    if (isPlainObject(av) && isPlainObject(bv)) {
      const sub = createMergePatch(av, bv);
      if (Object.keys(sub).length > 0) patch[key] = sub;
    } else if (canonicalJson(av) !== canonicalJson(bv)) {
      patch[key] = normalize(bv);
    }
  }
  return patch;
}

// ---- the size cap ----

/**
 * Bounds of a written status. Its strings come partly from what people write on services (names,
 * annotations), and one object's status must stay far below etcd's 1.5 MB object limit however many
 * services a schedule selects: lists are cut with a count of the rest, strings are cut.
 */
export const STATUS_LIMITS = {
  /** Services listed; `running`, `stopped` and `gpusReclaimed` still count all of them. */
  services: 500,
  /** A service's or a condition's message. */
  message: 1024,
  /** Names, reasons, states and times. */
  word: 253,
  /** The whole status as JSON. */
  bytes: 256 * 1024,
} as const;

function cut(value: unknown, max: number): unknown {
  return typeof value === "string" && value.length > max ? `${value.slice(0, max - 1)}…` : value;
}

function capStrings(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) out[k] = cut(v, k === "message" ? STATUS_LIMITS.message : STATUS_LIMITS.word);
  return out;
}

/**
 * The status within STATUS_LIMITS. When services are left out, the Ready condition says how many.
 * Idempotent: a capped status is returned unchanged, so comparing with what was written holds.
 */
export function capStatus<T extends Record<string, unknown>>(status: T): T {
  const out: Record<string, unknown> = capStrings(status);
  const all = Array.isArray(status.services) ? (status.services as unknown[]) : undefined;
  const services = all?.map((s) => (isPlainObject(s) ? capStrings(s) : s));
  const conditions = Array.isArray(status.conditions)
    ? status.conditions.map((c: unknown) => (isPlainObject(c) ? capStrings(c) : c))
    : undefined;
  if (conditions) out.conditions = conditions;
  if (services === undefined || all === undefined) return out as T;
  let keep = Math.min(services.length, STATUS_LIMITS.services);
  for (;;) {
    const listed = services.slice(0, keep);
    const rest = services.length - keep;
    const withNote = rest > 0 && conditions ? conditions.map((c) => noteOmitted(c, rest)) : conditions;
    const candidate = { ...out, services: listed, ...(withNote ? { conditions: withNote } : {}) };
    if (keep === 0 || canonicalJson(candidate).length <= STATUS_LIMITS.bytes) return candidate as unknown as T;
    keep = Math.floor(keep / 2);
  }
}

const OMITTED = /; (\d+) more services? not listed in status$/;

function noteOmitted(condition: unknown, rest: number): unknown {
  if (!isPlainObject(condition) || condition.type !== "Ready" || typeof condition.message !== "string") return condition;
  const note = `; ${rest} more service${rest === 1 ? "" : "s"} not listed in status`;
  const base = condition.message.replace(OMITTED, "");
  return { ...condition, message: `${base.slice(0, STATUS_LIMITS.message - note.length)}${note}` };
}

export type ScheduleStatusWriterOptions = {
  kubeConfig: KubeConfig;
  limiter: WriteLimiter;
  resource?: ResourceRef;
  fieldManager?: string;
  logger?: Logger;
};

type Written = { canonical: string; fromRv: string | undefined; toRv: string };

export class ScheduleStatusWriter {
  private readonly api: CustomObjectsApi;
  private readonly opts: ScheduleStatusWriterOptions;
  private readonly resource: ResourceRef;
  private readonly logger: Logger;
  private readonly written = new Map<string, Written>();
  private writes = 0;
  private skipped = 0;

  constructor(opts: ScheduleStatusWriterOptions) {
    this.opts = opts;
    this.api = opts.kubeConfig.makeApiClient(CustomObjectsApi);
    this.resource = opts.resource ?? SERVING_SCHEDULE_RESOURCE;
    this.logger = opts.logger ?? noopLogger;
  }

  /** Writes `desired` as the status of namespace/name unless it is already there. Never throws. */
  async write(namespace: string, name: string, desired: Record<string, unknown>, current: CurrentObject): Promise<StatusWriteResult> {
    const key = `${namespace}/${name}`;
    desired = capStatus(desired);
    const canonical = canonicalJson(desired);
    const currentRv = current?.metadata?.resourceVersion;
    if (current !== undefined && canonicalJson(current.status ?? {}) === canonical) {
      this.skipped++;
      return { kind: "unchanged" };
    }
    const last = this.written.get(key);
    // Our own write, not yet seen by the cache the caller read.
    if (last && last.canonical === canonical && currentRv !== undefined && (currentRv === last.fromRv || currentRv === last.toRv)) {
      this.skipped++;
      return { kind: "unchanged" };
    }
    const patch =
      current?.status !== undefined ? createMergePatch(current.status, desired) : (normalize(desired) as Record<string, unknown>);
    try {
      const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
      const request = {
        group: this.resource.group,
        version: this.resource.version,
        body: { status: patch },
        fieldManager: this.opts.fieldManager ?? FIELD_MANAGER,
        name,
      };
      const updated = (await this.opts.limiter.run(() =>
        namespace === CLUSTER_SCOPE
          ? this.api.patchClusterCustomObjectStatus({ ...request, plural: CLUSTER_SERVING_SCHEDULE_RESOURCE.plural }, mergePatch)
          : this.api.patchNamespacedCustomObjectStatus({ ...request, plural: this.resource.plural, namespace }, mergePatch),
      )) as { metadata?: { resourceVersion?: string } };
      const toRv = updated.metadata?.resourceVersion ?? "";
      this.written.set(key, { canonical, fromRv: currentRv, toRv });
      this.writes++;
      return { kind: "ok", resourceVersion: toRv };
    } catch (err) {
      if (err instanceof LimiterClosedError) return { kind: "error", code: undefined, message: err.message };
      const f = apiFailure(err);
      if (f.code === 404) {
        this.written.delete(key);
        return { kind: "notFound", message: f.message };
      }
      this.logger.warn("status: write failed", { namespace, name, code: f.code, error: f.message });
      return { kind: "error", code: f.code, message: f.message };
    }
  }

  /** Forget a deleted schedule. */
  forget(namespace: string, name: string): void {
    this.written.delete(`${namespace}/${name}`);
  }

  stats(): { writes: number; skipped: number } {
    return { writes: this.writes, skipped: this.skipped };
  }
}

// Fake clock and timers for the Kubernetes adapters' unit tests.
import type { KubeConfig } from "@kubernetes/client-node";
import type { Timers } from "../../../src/sources/kube/runtime.ts";

export class FakeTimers implements Timers {
  private t: number;
  private seq = 0;
  private readonly pending = new Map<number, { at: number; fn: () => void }>();
  constructor(start = 1_700_000_000_000) {
    this.t = start;
  }
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.pending.set(id, { at: this.t + Math.max(0, ms), fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }
  get pendingCount(): number {
    return this.pending.size;
  }
  /** Advances the clock, running due timers in order, letting promises settle between them. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await flush();
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.pending) if (entry[1].at <= end && (!next || entry[1].at < next[1].at)) next = entry;
      if (!next) break;
      this.pending.delete(next[0]);
      this.t = Math.max(this.t, next[1].at);
      next[1].fn();
    }
    this.t = end;
    await flush();
  }
}

export async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise<void>((r) => setImmediate(r));
}

/** An apiserver error as client-node throws it: an HTTP status and a Status body. */
export function apiError(code: number, reason: string, message = reason): Error & { code: number; body: string } {
  return Object.assign(new Error(`HTTP ${code}`), { code, body: JSON.stringify({ kind: "Status", reason, message }) });
}

type Stored = { metadata: { name: string; namespace?: string; resourceVersion?: string; annotations?: Record<string, string> } } & Record<
  string,
  unknown
>;
type Coords = { group: string; version: string; plural: string; namespace: string; name?: string };

/**
 * The part of CustomObjectsApi the daemon's adapters call, over an in-memory store with
 * resourceVersions and optimistic concurrency as the apiserver has them. `failNext` makes the next
 * calls of a verb throw (a 500, a 409, a network error).
 */
export class FakeCustomObjects {
  readonly objects = new Map<string, Stored>();
  readonly calls: { verb: string; name: string | undefined; body?: unknown }[] = [];
  readonly failures: { verb: string; err: unknown }[] = [];
  #rv = 1;

  failNext(verb: string, err: unknown, times = 1): void {
    for (let i = 0; i < times; i++) this.failures.push({ verb, err });
  }

  put(coords: Omit<Coords, "name">, obj: Stored): void {
    this.objects.set(
      this.#key({ ...coords, name: obj.metadata.name }),
      structuredClone({ ...obj, metadata: { ...obj.metadata, resourceVersion: String(this.#rv++) } }),
    );
  }

  get(coords: Omit<Coords, "name">, name: string): Stored | undefined {
    return this.objects.get(this.#key({ ...coords, name }));
  }

  async getNamespacedCustomObject(p: Coords): Promise<unknown> {
    this.#call("get", p.name);
    const o = this.objects.get(this.#key(p));
    if (!o) throw apiError(404, "NotFound");
    return structuredClone(o);
  }

  async createNamespacedCustomObject(p: Coords & { body: Stored }): Promise<unknown> {
    this.#call("create", p.body.metadata.name, p.body);
    const key = this.#key({ ...p, name: p.body.metadata.name });
    if (this.objects.has(key)) throw apiError(409, "AlreadyExists");
    const stored = { ...structuredClone(p.body), metadata: { ...p.body.metadata, resourceVersion: String(this.#rv++) } };
    this.objects.set(key, stored);
    return structuredClone(stored);
  }

  async replaceNamespacedCustomObject(p: Coords & { body: Stored }): Promise<unknown> {
    this.#call("replace", p.name, p.body);
    const key = this.#key(p);
    const current = this.objects.get(key);
    if (!current) throw apiError(404, "NotFound");
    if (p.body.metadata.resourceVersion !== current.metadata.resourceVersion) throw apiError(409, "Conflict");
    const stored = { ...structuredClone(p.body), metadata: { ...p.body.metadata, resourceVersion: String(this.#rv++) } };
    this.objects.set(key, stored);
    return structuredClone(stored);
  }

  /** A JSON merge patch of metadata.annotations, with metadata.resourceVersion as a precondition. */
  async patchNamespacedCustomObject(
    p: Coords & { body: { metadata: { annotations?: Record<string, string | null>; resourceVersion?: string } } },
  ): Promise<unknown> {
    this.#call("patch", p.name, p.body);
    const key = this.#key(p);
    const current = this.objects.get(key);
    if (!current) throw apiError(404, "NotFound");
    const wanted = p.body.metadata.resourceVersion;
    if (wanted !== undefined && wanted !== current.metadata.resourceVersion)
      throw apiError(409, "Conflict", "the object has been modified");
    const annotations = { ...current.metadata.annotations };
    for (const [k, v] of Object.entries(p.body.metadata.annotations ?? {}))
      if (v === null) delete annotations[k];
      else annotations[k] = v;
    current.metadata = { ...current.metadata, annotations, resourceVersion: String(this.#rv++) };
    return structuredClone(current);
  }

  #call(verb: string, name: string | undefined, body?: unknown): void {
    this.calls.push({ verb, name, body: body === undefined ? undefined : structuredClone(body) });
    const i = this.failures.findIndex((f) => f.verb === verb);
    if (i >= 0) {
      const [f] = this.failures.splice(i, 1);
      throw f?.err;
    }
  }

  #key(p: Coords & { name?: string | undefined }): string {
    return `${p.group}/${p.plural}/${p.namespace}/${p.name}`;
  }
}

/** The part of CoreV1Api the EventRecorder calls, keeping Events by name. */
export class FakeCoreEvents {
  readonly events = new Map<string, Record<string, unknown>>();
  readonly calls: string[] = [];
  failing: unknown;

  async createNamespacedEvent(p: {
    namespace: string;
    body: { metadata?: { name?: string } } & Record<string, unknown>;
  }): Promise<unknown> {
    this.calls.push("create");
    if (this.failing) throw this.failing;
    this.events.set(p.body.metadata?.name ?? "", structuredClone(p.body));
    return p.body;
  }

  async patchNamespacedEvent(p: { name: string; namespace: string; body: Record<string, unknown> }): Promise<unknown> {
    this.calls.push("patch");
    if (this.failing) throw this.failing;
    const e = this.events.get(p.name);
    if (!e) throw apiError(404, "NotFound");
    Object.assign(e, p.body);
    return e;
  }
}

/** A KubeConfig whose every API client is `api`. */
export function kubeConfigFor(api: object): KubeConfig {
  return { makeApiClient: () => api } as unknown as KubeConfig;
}

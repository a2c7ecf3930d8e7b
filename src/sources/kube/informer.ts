// A resilient list+watch cache of one Kubernetes resource, built on client-node's `Watch` (the
// streaming part) and `CustomObjectsApi` (paginated LIST), because client-node's own informer
// stops for good on any error but 410 (kubernetes-client/javascript#596, #958), never asks for
// watch bookmarks, and aborts quiet watches after 30 s of silence.
//
// Behaviour:
// - One reflector per scope: all namespaces, or one per namespace given. One shared cache.
// - LIST once (paginated) at start, then WATCH from the list's resourceVersion with
//   allowWatchBookmarks and a server-side timeout randomized in [5, 10) min like client-go. When a
//   watch ends normally it is reopened from the last resourceVersion seen (event or bookmark): no
//   LIST. There is no periodic resync: at rest the API sees one WATCH request per scope every
//   150 s (see staleness) and nothing else.
// - 410 Gone (HTTP status or ERROR event): relist, diffing against the cache so consumers get the
//   add/update/delete events they missed, then `synced` with reason `relist`.
// - Any other error (network, 5xx, 403, a failed LIST): retry with capped, jittered exponential
//   backoff, forever, reopening the watch from the last resourceVersion (the apiserver replays
//   what happened meanwhile, or answers 410 and we relist). Once it is back, `synced` with reason
//   `restart`, because a restarted watch does not replay `add` for cached objects (#795): the
//   consumer re-reads everything from `list()`.
// - Staleness: time since the stalest scope last proved alive (LIST succeeded, watch opened,
//   event or bookmark received). The apiserver sends bookmarks only when the resource's
//   resourceVersion advances (measured on 1.33: none in 140 s on an idle CRD), so a watch silent
//   for inactivityTimeoutMs (150 s) is reopened from its resourceVersion: that is the liveness
//   check of a half-open connection. At rest staleness therefore cycles 0..150 s; a /healthz
//   threshold must exceed inactivityTimeoutMs plus the maximum backoff (e.g. 5 min).
// - Handlers may be async; their rejections (and throws) are caught and logged, never unhandled.
import { CoreV1Api, CustomObjectsApi, Watch, type KubeConfig } from "@kubernetes/client-node";
import { backoffDelay, errorMessage, noopLogger, sleepOn, systemTimers, type Logger, type Timers } from "./runtime.ts";

export type ResourceRef = { group: string; version: string; plural: string };

/** The part of an object the cache needs. */
export type CachedObject = {
  metadata: { name: string; namespace?: string | undefined; resourceVersion?: string | undefined };
};

export type SyncReason = "initial" | "relist" | "restart";

export type InformerHandlers<T> = {
  add: (obj: T) => void | Promise<void>;
  update: (obj: T, old: T) => void | Promise<void>;
  delete: (obj: T) => void | Promise<void>;
  /** The cache is (again) complete: re-read everything from list(). */
  synced: (info: { reason: SyncReason; namespace: string | undefined }) => void | Promise<void>;
  /** Observational: an error the informer is recovering from. */
  error: (err: unknown, info: { namespace: string | undefined; retryInMs: number }) => void | Promise<void>;
};
export type InformerEvent = keyof InformerHandlers<unknown>;

export type ListPage = { items: unknown[]; metadata?: { resourceVersion?: string; continue?: string } };

/** How the informer talks to the apiserver; replaceable in unit tests. */
export type InformerTransport = {
  list(
    namespace: string | undefined,
    opts: { labelSelector?: string | undefined; limit: number; continue?: string | undefined },
  ): Promise<ListPage>;
  watch(
    namespace: string | undefined,
    params: Record<string, string | number | boolean | undefined>,
    onEvent: (type: string, obj: unknown) => void,
    onDone: (err: unknown) => void,
  ): Promise<{ abort(): void }>;
};

export type InformerOptions<T extends CachedObject> = {
  resource: ResourceRef;
  /** Empty or undefined: all namespaces, one watch. Otherwise one watch per namespace. */
  namespaces?: readonly string[] | undefined;
  labelSelector?: string | undefined;
  /** Parses a raw object as it enters; keep only the fields you read (memory). Throwing drops it. */
  transform: (raw: unknown) => T;
  kubeConfig?: KubeConfig;
  /** Instead of kubeConfig (tests). */
  transport?: InformerTransport;
  /** For logs; default the plural. */
  name?: string;
  logger?: Logger;
  timers?: Timers;
  random?: () => number;
  backoff?: { initialMs?: number; maxMs?: number };
  /** Server-side watch timeout base; the timeout is randomized in [t, 2t). Default 300. */
  watchTimeoutSeconds?: number;
  /** Client-side: reopen a watch silent for this long (liveness of the connection). Default 150 000. */
  inactivityTimeoutMs?: number;
  /** LIST page size. Default 500. */
  pageSize?: number;
  /** A watch that ended without error after living this long is reopened at once. Default 5000. */
  minHealthyWatchMs?: number;
};

export type ScopeStatus = {
  namespace: string | undefined;
  synced: boolean;
  resourceVersion: string;
  lastActivity: number | undefined;
  restarts: number;
  relists: number;
  lastError: string | undefined;
};

export type InformerStatus = { name: string; synced: boolean; stalenessMs: number; objects: number; scopes: ScopeStatus[] };

type Scope = {
  namespace: string | undefined;
  rv: string;
  synced: boolean;
  /** Set after an error: emit synced('restart') when the watch is back. */
  pendingRestartSync: boolean;
  lastActivity: number | undefined;
  attempt: number;
  restarts: number;
  relists: number;
  lastError: string | undefined;
  watch: { abort(): void } | undefined;
};

class GoneError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "GoneError";
  }
}

function statusCodeOf(err: unknown): number | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const e = err as { statusCode?: unknown; code?: unknown };
  if (typeof e.statusCode === "number") return e.statusCode;
  if (typeof e.code === "number") return e.code;
  return undefined;
}

export function keyOf(namespace: string | undefined, name: string): string {
  return `${namespace ?? ""}/${name}`;
}

function resourcePath(resource: ResourceRef, namespace: string | undefined): string {
  const base = resource.group === "" ? `/api/${resource.version}` : `/apis/${resource.group}/${resource.version}`;
  return namespace === undefined ? `${base}/${resource.plural}` : `${base}/namespaces/${namespace}/${resource.plural}`;
}

/** The transport over a KubeConfig: CustomObjectsApi for LIST, client-node's Watch for WATCH. */
function kubeTransport(kubeConfig: KubeConfig, resource: ResourceRef, inactivityTimeoutMs: number): InformerTransport {
  // CustomObjectsApi lists under /apis/ only; of the core group the daemon needs Namespaces alone
  // (their labels), which CoreV1Api lists. The watch goes by path and needs nothing special.
  const core = resource.group === "";
  if (core && resource.plural !== "namespaces")
    throw new Error(`informer: of the core group only namespaces are supported, not ${resource.plural}`);
  const api = kubeConfig.makeApiClient(CustomObjectsApi);
  const coreApi = kubeConfig.makeApiClient(CoreV1Api);
  const watcher = new Watch(kubeConfig);
  // Watch's inactivity (and connect) timeout is private, 30 s: quiet watches would be aborted and
  // reopened every 30 s. Set ours.
  (watcher as unknown as { requestTimeoutMs: number }).requestTimeoutMs = inactivityTimeoutMs;
  return {
    async list(namespace, opts) {
      const common = {
        group: resource.group,
        version: resource.version,
        plural: resource.plural,
        labelSelector: opts.labelSelector,
        limit: opts.limit,
        _continue: opts.continue,
      };
      const page: unknown = core
        ? await coreApi.listNamespace({ labelSelector: opts.labelSelector, limit: opts.limit, _continue: opts.continue })
        : namespace === undefined
          ? await api.listClusterCustomObject(common)
          : await api.listNamespacedCustomObject({ ...common, namespace });
      return page as ListPage;
    },
    async watch(namespace, params, onEvent, onDone) {
      return watcher.watch(resourcePath(resource, namespace), params, (type, obj) => onEvent(type, obj), onDone);
    },
  };
}

export class Informer<T extends CachedObject> {
  readonly name: string;
  private readonly opts: InformerOptions<T>;
  private readonly transport: InformerTransport;
  private readonly logger: Logger;
  private readonly timers: Timers;
  private readonly random: () => number;
  private readonly scopes: Scope[];
  private readonly cache = new Map<string, T>();
  private readonly handlers: { [K in InformerEvent]: Array<InformerHandlers<T>[K]> } = {
    add: [],
    update: [],
    delete: [],
    synced: [],
    error: [],
  };
  private readonly stopController = new AbortController();
  private started = false;
  private startedAt = 0;
  private syncWaiters: Array<() => void> = [];
  private loops: Promise<void>[] = [];

  constructor(opts: InformerOptions<T>) {
    this.opts = opts;
    this.name = opts.name ?? opts.resource.plural;
    this.logger = opts.logger ?? noopLogger;
    this.timers = opts.timers ?? systemTimers;
    this.random = opts.random ?? Math.random;
    const inactivity = opts.inactivityTimeoutMs ?? 150_000;
    if (opts.transport) this.transport = opts.transport;
    else if (opts.kubeConfig) this.transport = kubeTransport(opts.kubeConfig, opts.resource, inactivity);
    else throw new Error("informer: kubeConfig or transport is required");
    const namespaces = opts.namespaces && opts.namespaces.length > 0 ? [...new Set(opts.namespaces)] : [undefined];
    this.scopes = namespaces.map((namespace) => ({
      namespace,
      rv: "",
      synced: false,
      pendingRestartSync: false,
      lastActivity: undefined,
      attempt: 0,
      restarts: 0,
      relists: 0,
      lastError: undefined,
      watch: undefined,
    }));
  }

  /** Registers a handler; returns a function that removes it. */
  on<K extends InformerEvent>(event: K, handler: InformerHandlers<T>[K]): () => void {
    const list = this.handlers[event] as Array<InformerHandlers<T>[K]>;
    list.push(handler);
    return () => {
      const i = list.indexOf(handler);
      if (i >= 0) list.splice(i, 1);
    };
  }

  /** Starts every scope's list+watch loop. Returns at once; see waitForSync(). */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.startedAt = this.timers.now();
    this.loops = this.scopes.map((scope) => this.runScope(scope));
  }

  /** Stops all watches and pending retries; resolves when every loop has ended. */
  async stop(): Promise<void> {
    this.stopController.abort(new Error("informer stopped"));
    for (const scope of this.scopes) scope.watch?.abort();
    await Promise.allSettled(this.loops);
  }

  /** True once every scope has listed successfully at least once. */
  get hasSynced(): boolean {
    return this.scopes.every((s) => s.synced);
  }

  /** Resolves once hasSynced (rejects if the signal aborts first). */
  waitForSync(signal?: AbortSignal): Promise<void> {
    if (this.hasSynced) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(signal?.reason);
      signal?.addEventListener("abort", onAbort, { once: true });
      this.syncWaiters.push(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      });
    });
  }

  list(namespace?: string): T[] {
    const out: T[] = [];
    for (const obj of this.cache.values()) {
      if (namespace === undefined || obj.metadata.namespace === namespace) out.push(obj);
    }
    return out;
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.cache.get(keyOf(namespace, name));
  }

  get size(): number {
    return this.cache.size;
  }

  /** Milliseconds since the stalest scope last proved alive (since start if it never did). */
  stalenessMs(): number {
    const now = this.timers.now();
    let oldest = now;
    for (const s of this.scopes) oldest = Math.min(oldest, s.lastActivity ?? this.startedAt);
    return this.started ? now - oldest : 0;
  }

  status(): InformerStatus {
    return {
      name: this.name,
      synced: this.hasSynced,
      stalenessMs: this.stalenessMs(),
      objects: this.cache.size,
      scopes: this.scopes.map((s) => ({
        namespace: s.namespace,
        synced: s.synced,
        resourceVersion: s.rv,
        lastActivity: s.lastActivity,
        restarts: s.restarts,
        relists: s.relists,
        lastError: s.lastError,
      })),
    };
  }

  private get stopped(): boolean {
    return this.stopController.signal.aborted;
  }

  private emit<K extends InformerEvent>(event: K, ...args: Parameters<InformerHandlers<T>[K]>): void {
    for (const handler of [...this.handlers[event]]) {
      try {
        const result = (handler as (...a: unknown[]) => unknown)(...args);
        if (result !== null && typeof result === "object" && typeof (result as Promise<unknown>).then === "function") {
          (result as Promise<unknown>).then(undefined, (err: unknown) => this.handlerFailed(event, err));
        }
      } catch (err) {
        this.handlerFailed(event, err);
      }
    }
  }

  private handlerFailed(event: string, err: unknown): void {
    this.logger.error("informer handler failed", { informer: this.name, event, error: errorMessage(err) });
  }

  private touch(scope: Scope): void {
    scope.lastActivity = this.timers.now();
  }

  private transform(raw: unknown): T | undefined {
    try {
      return this.opts.transform(raw);
    } catch (err) {
      const meta = (raw as { metadata?: { namespace?: string; name?: string } } | null)?.metadata;
      this.logger.warn("informer: object does not parse, ignored", {
        informer: this.name,
        namespace: meta?.namespace,
        name: meta?.name,
        error: errorMessage(err),
      });
      return undefined;
    }
  }

  private inScope(scope: Scope, obj: T): boolean {
    return scope.namespace === undefined || obj.metadata.namespace === scope.namespace;
  }

  private async runScope(scope: Scope): Promise<void> {
    const signal = this.stopController.signal;
    while (!this.stopped) {
      try {
        if (scope.rv === "") await this.relist(scope);
        if (this.stopped) return;
        const outcome = await this.watchOnce(scope);
        if (this.stopped) return;
        if (outcome.healthy) scope.attempt = 0;
        if (outcome.kind === "gone") {
          scope.rv = "";
          this.logger.info("informer: resourceVersion too old, relisting", { informer: this.name, namespace: scope.namespace });
          continue;
        }
        if (outcome.kind === "closed" && outcome.healthy) continue;
        // Closed too soon, or failed: back off before reopening.
        await this.backoff(scope, outcome.kind === "error" ? outcome.err : new Error("watch closed immediately"));
      } catch (err) {
        if (this.stopped) return;
        if (err instanceof GoneError) {
          scope.rv = "";
          continue;
        }
        await this.backoff(scope, err).catch(() => undefined);
      }
      if (signal.aborted) return;
    }
  }

  private async backoff(scope: Scope, err: unknown): Promise<void> {
    const delay = backoffDelay(scope.attempt, {
      initialMs: this.opts.backoff?.initialMs ?? 800,
      maxMs: this.opts.backoff?.maxMs ?? 30_000,
      random: this.random,
    });
    scope.attempt++;
    scope.restarts++;
    scope.pendingRestartSync = scope.synced;
    scope.lastError = errorMessage(err);
    this.logger.warn("informer: watch failed, retrying", {
      informer: this.name,
      namespace: scope.namespace,
      error: scope.lastError,
      code: statusCodeOf(err),
      retryInMs: delay,
    });
    this.emit("error", err, { namespace: scope.namespace, retryInMs: delay });
    await sleepOn(this.timers, delay, this.stopController.signal);
  }

  private async relist(scope: Scope): Promise<void> {
    const fresh = new Map<string, T>();
    let cont: string | undefined;
    let rv = "";
    do {
      let page: ListPage;
      try {
        page = await this.transport.list(scope.namespace, {
          labelSelector: this.opts.labelSelector,
          limit: this.opts.pageSize ?? 500,
          continue: cont,
        });
      } catch (err) {
        // An expired continue token: start the LIST over.
        if (statusCodeOf(err) === 410) throw new GoneError("list continue token expired");
        throw err;
      }
      if (this.stopped) return;
      for (const raw of page.items ?? []) {
        const obj = this.transform(raw);
        if (obj) fresh.set(keyOf(obj.metadata.namespace, obj.metadata.name), obj);
      }
      cont = page.metadata?.continue || undefined;
      rv = page.metadata?.resourceVersion ?? "";
    } while (cont !== undefined);
    this.touch(scope);
    // Diff against what this scope held: consumers get the changes they missed.
    const removed: T[] = [];
    for (const [key, old] of this.cache) {
      if (this.inScope(scope, old) && !fresh.has(key)) {
        this.cache.delete(key);
        removed.push(old);
      }
    }
    const added: T[] = [];
    const updated: Array<[T, T]> = [];
    for (const [key, obj] of fresh) {
      const old = this.cache.get(key);
      this.cache.set(key, obj);
      if (!old) added.push(obj);
      else if (old.metadata.resourceVersion !== obj.metadata.resourceVersion) updated.push([obj, old]);
    }
    const reason: SyncReason = scope.synced ? "relist" : "initial";
    const wasSynced = this.hasSynced;
    scope.rv = rv;
    scope.synced = true;
    scope.pendingRestartSync = false;
    if (reason === "relist") scope.relists++;
    this.logger.info("informer: listed", { informer: this.name, namespace: scope.namespace, objects: fresh.size, reason });
    for (const obj of removed) this.emit("delete", obj);
    for (const obj of added) this.emit("add", obj);
    for (const [obj, old] of updated) this.emit("update", obj, old);
    this.emit("synced", { reason, namespace: scope.namespace });
    if (!wasSynced && this.hasSynced) {
      const waiters = this.syncWaiters;
      this.syncWaiters = [];
      for (const w of waiters) w();
    }
  }

  private watchOnce(
    scope: Scope,
  ): Promise<{ kind: "closed" | "gone"; healthy: boolean } | { kind: "error"; err: unknown; healthy: boolean }> {
    const openedAt = this.timers.now();
    const minHealthy = this.opts.minHealthyWatchMs ?? 5000;
    const base = this.opts.watchTimeoutSeconds ?? 300;
    let received = false;
    let gone = false;
    let errorEvent: unknown;
    return new Promise((resolve) => {
      let finished = false;
      const finish = (err: unknown) => {
        if (finished) return;
        finished = true;
        scope.watch = undefined;
        const healthy = received || this.timers.now() - openedAt >= minHealthy;
        if (gone || statusCodeOf(err) === 410) resolve({ kind: "gone", healthy: true });
        else if (err && !(err instanceof Error && err.name === "TimeoutError" && healthy)) resolve({ kind: "error", err, healthy });
        else if (errorEvent !== undefined) resolve({ kind: "error", err: errorEvent, healthy });
        else resolve({ kind: "closed", healthy });
      };
      const onEvent = (type: string, raw: unknown) => {
        if (finished || this.stopped) return;
        received = true;
        this.touch(scope);
        const meta = (raw as { metadata?: { resourceVersion?: string } } | null)?.metadata;
        switch (type) {
          case "ADDED":
          case "MODIFIED": {
            const obj = this.transform(raw);
            if (meta?.resourceVersion) scope.rv = meta.resourceVersion;
            if (!obj) return;
            const key = keyOf(obj.metadata.namespace, obj.metadata.name);
            const old = this.cache.get(key);
            this.cache.set(key, obj);
            if (!old) this.emit("add", obj);
            else if (old.metadata.resourceVersion !== obj.metadata.resourceVersion) this.emit("update", obj, old);
            return;
          }
          case "DELETED": {
            if (meta?.resourceVersion) scope.rv = meta.resourceVersion;
            const m = (raw as { metadata?: { namespace?: string; name?: string } } | null)?.metadata;
            if (!m?.name) return;
            const key = keyOf(m.namespace, m.name);
            const old = this.cache.get(key);
            if (!old) return;
            this.cache.delete(key);
            this.emit("delete", this.transform(raw) ?? old);
            return;
          }
          case "BOOKMARK":
            if (meta?.resourceVersion) scope.rv = meta.resourceVersion;
            return;
          case "ERROR": {
            const status = raw as { code?: number; message?: string } | null;
            if (status?.code === 410) gone = true;
            else {
              const e = new Error(`watch ERROR event: ${status?.message ?? "unknown"}`) as Error & { statusCode?: number };
              if (typeof status?.code === "number") e.statusCode = status.code;
              errorEvent = e;
            }
            return;
          }
          default:
            return;
        }
      };
      const params = {
        resourceVersion: scope.rv,
        allowWatchBookmarks: true,
        timeoutSeconds: Math.floor(base + base * this.random()),
        labelSelector: this.opts.labelSelector,
      };
      this.transport.watch(scope.namespace, params, onEvent, finish).then(
        (handle) => {
          if (finished) return;
          if (this.stopped) {
            handle.abort();
            return;
          }
          scope.watch = handle;
          // Connected (HTTP 200): alive, and if this follows an error, tell consumers to re-read.
          this.touch(scope);
          if (scope.pendingRestartSync) {
            scope.pendingRestartSync = false;
            this.logger.info("informer: watch restored", { informer: this.name, namespace: scope.namespace });
            this.emit("synced", { reason: "restart", namespace: scope.namespace });
          }
        },
        (err: unknown) => finish(err ?? new Error("watch failed")),
      );
    });
  }
}

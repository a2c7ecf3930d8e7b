// Where the caches' events go. Every event keeps the indexes current (hosts for wake on request, pods
// per service), leading or not, so a new leader starts from complete ones; the reconciler hears of an
// event only while this replica leads. That is the one leadership check on the event path.
import type { Reconciler } from "./reconciler.ts";
import type { ClusterCaches } from "./caches.ts";
import type { HostIndex } from "./wake.ts";

type ReconcilerEvents = Pick<
  Reconciler,
  "onServiceChanged" | "onServiceDeleted" | "onScheduleChanged" | "onScheduleDeleted" | "onPodsChanged" | "onNamespaceChanged" | "resync"
>;

export function routeEvents(caches: ClusterCaches, hostIndex: HostIndex, reconciler: ReconcilerEvents, isLeading: () => boolean): void {
  const r = whileLeading(reconciler, isLeading);
  const { namespaceObjects } = caches;
  for (const services of caches.serviceInformers) {
    services.on("add", (o) => {
      hostIndex.changed("add");
      r.onServiceChanged(o);
    });
    services.on("update", (o) => {
      hostIndex.changed("update");
      r.onServiceChanged(o);
    });
    services.on("delete", (o) => {
      hostIndex.changed("delete");
      r.onServiceDeleted(o);
    });
  }
  for (const inf of caches.clusterSchedules ? [caches.schedules, caches.clusterSchedules] : [caches.schedules]) {
    inf.on("add", (o) => r.onScheduleChanged(o));
    inf.on("update", (o) => r.onScheduleChanged(o));
    inf.on("delete", (o) => r.onScheduleDeleted(o));
  }
  // The reconciler hears only of services whose count of GPU pods changed.
  for (const { informer: pods, book } of caches.podKinds) {
    const countsOf = (keys: Iterable<string>) => new Map([...keys].map((k) => [k, book.holding(k)]));
    const podsChanged = (before: Map<string, number>, keys: Iterable<string>) => {
      for (const k of keys) if (book.holding(k) !== before.get(k)) r.onPodsChanged(k);
    };
    pods.on("add", (p) => podsChanged(countsOf([p.key]), [book.put(p)]));
    pods.on("update", (p, old) => podsChanged(countsOf([old.key, p.key]), book.move(p, old)));
    pods.on("delete", (p) => podsChanged(countsOf([p.key]), [book.remove(p)]));
    pods.on("synced", () => podsChanged(countsOf(book.keys()), book.reset(pods.list())));
  }
  namespaceObjects?.on("add", (o) => r.onNamespaceChanged(o.metadata.name));
  namespaceObjects?.on("update", (o, old) => {
    if (JSON.stringify(o.metadata.labels ?? {}) !== JSON.stringify(old.metadata.labels ?? {})) r.onNamespaceChanged(o.metadata.name);
  });
  for (const inf of caches.informers) {
    inf.on("synced", ({ reason }) => {
      if (reason !== "initial") r.resync();
    });
    // the informer logs each failure itself, with its cause; logging it here too doubled every line
    inf.on("error", () => undefined);
  }
}

/** The reconciler's event methods, each a no-op while this replica does not lead. */
function whileLeading(reconciler: ReconcilerEvents, isLeading: () => boolean): ReconcilerEvents {
  const guard =
    <A extends unknown[]>(f: (...args: A) => void) =>
    (...args: A) => {
      if (isLeading()) f(...args);
    };
  return {
    onServiceChanged: guard((o) => reconciler.onServiceChanged(o)),
    onServiceDeleted: guard((o) => reconciler.onServiceDeleted(o)),
    onScheduleChanged: guard((o) => reconciler.onScheduleChanged(o)),
    onScheduleDeleted: guard((o) => reconciler.onScheduleDeleted(o)),
    onPodsChanged: guard((k) => reconciler.onPodsChanged(k)),
    onNamespaceChanged: guard((n) => reconciler.onNamespaceChanged(n)),
    resync: guard(() => reconciler.resync()),
  };
}

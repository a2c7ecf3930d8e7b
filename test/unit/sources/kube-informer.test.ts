// The informer's recovery logic with a scripted transport and fake timers: 410 relists and diffs,
// any other error backs off (capped, jittered) and resyncs, normal closes reopen from the last
// resourceVersion without LIST, handler failures are contained, staleness is tracked.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Informer, type InformerTransport, type ListPage } from "../../../src/sources/kube/informer.ts";
import { FakeTimers, flush } from "./kube-fakes.ts";

type Obj = { metadata: { name: string; namespace?: string; resourceVersion?: string } };
const obj = (name: string, rv: string, namespace = "ns"): Obj => ({ metadata: { name, namespace, resourceVersion: rv } });

type WatchCall = {
  params: Record<string, unknown>;
  emit: (type: string, o: unknown) => void;
  done: (err: unknown) => void;
  aborted: boolean;
};

class ScriptedTransport implements InformerTransport {
  lists: Array<{ namespace: string | undefined; continue?: string | undefined }> = [];
  watches: WatchCall[] = [];
  listResult: () => Promise<ListPage> = async () => ({ items: [], metadata: { resourceVersion: "1" } });
  watchFails: unknown = undefined;
  async list(namespace: string | undefined, opts: { continue?: string | undefined }): Promise<ListPage> {
    this.lists.push({ namespace, continue: opts.continue });
    return this.listResult();
  }
  async watch(
    _ns: string | undefined,
    params: Record<string, unknown>,
    onEvent: (t: string, o: unknown) => void,
    onDone: (err: unknown) => void,
  ) {
    const call: WatchCall = { params, emit: onEvent, done: onDone, aborted: false };
    this.watches.push(call);
    if (this.watchFails !== undefined) {
      onDone(this.watchFails);
      return { abort() {} };
    }
    return {
      abort() {
        call.aborted = true;
        onDone(Object.assign(new Error("aborted"), { name: "AbortError" }));
      },
    };
  }
  get lastWatch(): WatchCall {
    const w = this.watches.at(-1);
    if (!w) throw new Error("no watch");
    return w;
  }
}

function setup() {
  const timers = new FakeTimers();
  const transport = new ScriptedTransport();
  const errors: string[] = [];
  const logger = {
    debug() {},
    info() {},
    warn() {},
    error: (m: string, f?: Record<string, unknown>) => void errors.push(`${m} ${String(f?.["error"])}`),
  };
  const informer = new Informer<Obj>({
    transport,
    resource: { group: "g", version: "v1", plural: "things" },
    transform: (raw) => raw as Obj,
    timers,
    random: () => 0.5,
    logger,
    backoff: { initialMs: 1000, maxMs: 8000 },
  });
  const events: string[] = [];
  informer.on("add", (o) => void events.push(`add ${o.metadata.name}@${o.metadata.resourceVersion}`));
  informer.on(
    "update",
    (o, old) => void events.push(`update ${o.metadata.name}@${old.metadata.resourceVersion}->${o.metadata.resourceVersion}`),
  );
  informer.on("delete", (o) => void events.push(`delete ${o.metadata.name}`));
  informer.on("synced", (i) => void events.push(`synced ${i.reason}`));
  return { timers, transport, informer, events, errors };
}

test("lists (paginated), then watches from the list resourceVersion with bookmarks", async () => {
  const { transport, informer, events } = setup();
  let page = 0;
  transport.listResult = async () =>
    page++ === 0
      ? { items: [obj("a", "5")], metadata: { resourceVersion: "10", continue: "next" } }
      : { items: [obj("b", "6")], metadata: { resourceVersion: "10" } };
  informer.start();
  await informer.waitForSync();
  await flush();
  assert.deepEqual(
    transport.lists.map((l) => l.continue),
    [undefined, "next"],
  );
  assert.deepEqual(events, ["add a@5", "add b@6", "synced initial"]);
  assert.equal(transport.lastWatch.params["resourceVersion"], "10");
  assert.equal(transport.lastWatch.params["allowWatchBookmarks"], true);
  const timeout = transport.lastWatch.params["timeoutSeconds"] as number;
  assert.ok(timeout >= 300 && timeout < 600);
  await informer.stop();
});

test("events update the cache; bookmarks move the resourceVersion; a normal close reopens without LIST", async () => {
  const { timers, transport, informer, events } = setup();
  informer.start();
  await informer.waitForSync();
  await flush();
  const w = transport.lastWatch;
  w.emit("ADDED", obj("a", "11"));
  w.emit("MODIFIED", obj("a", "12"));
  w.emit("MODIFIED", obj("a", "12")); // same resourceVersion: no update event
  w.emit("BOOKMARK", { metadata: { resourceVersion: "20" } });
  w.emit("DELETED", obj("a", "21"));
  assert.deepEqual(events.slice(1), ["add a@11", "update a@11->12", "delete a"]);
  await timers.advance(10_000);
  w.done(null); // server-side timeout
  await flush();
  assert.equal(transport.lists.length, 1, "no relist");
  assert.equal(transport.watches.length, 2);
  assert.equal(transport.lastWatch.params["resourceVersion"], "21");
  await informer.stop();
});

test("410 Gone relists and diffs against the cache", async () => {
  const { transport, informer, events } = setup();
  transport.listResult = async () => ({
    items: [obj("keep", "1"), obj("change", "1"), obj("vanish", "1")],
    metadata: { resourceVersion: "5" },
  });
  informer.start();
  await informer.waitForSync();
  await flush();
  transport.listResult = async () => ({
    items: [obj("keep", "1"), obj("change", "7"), obj("new", "8")],
    metadata: { resourceVersion: "9" },
  });
  transport.lastWatch.emit("ERROR", { kind: "Status", code: 410, message: "too old resource version" });
  transport.lastWatch.done(null);
  await flush();
  assert.equal(transport.lists.length, 2);
  assert.deepEqual(events.slice(4), ["delete vanish", "add new@8", "update change@1->7", "synced relist"]);
  assert.equal(transport.lastWatch.params["resourceVersion"], "9");
  assert.deepEqual(
    informer
      .list()
      .map((o) => o.metadata.name)
      .sort(),
    ["change", "keep", "new"],
  );
  await informer.stop();
});

test("other errors back off (capped, jittered), keep the cache, and resync with reason restart", async () => {
  const { timers, transport, informer, events } = setup();
  transport.listResult = async () => ({ items: [obj("a", "1")], metadata: { resourceVersion: "5" } });
  informer.start();
  await informer.waitForSync();
  await flush();
  transport.watchFails = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
  transport.lastWatch.done(new Error("socket hang up"));
  await flush();
  // attempts: 0 -> 1000*[0.5,1] = 750 ms, 1 -> 1500, 2 -> 3000, 3 -> 6000, 4 -> capped 8000 -> 6000
  const delays: number[] = [];
  for (let i = 0; i < 5; i++) {
    const before = transport.watches.length;
    const start = timers.now();
    while (transport.watches.length === before) await timers.advance(50);
    delays.push(timers.now() - start);
  }
  assert.deepEqual(delays, [750, 1500, 3000, 6000, 6000]);
  assert.equal(transport.lists.length, 1, "no LIST: the watch resumes from the last resourceVersion");
  assert.equal(informer.get("ns", "a")?.metadata.resourceVersion, "1", "cache kept");
  const staleness = informer.stalenessMs();
  assert.ok(staleness >= 17_000, `staleness ${staleness}`);
  transport.watchFails = undefined;
  await timers.advance(8_000);
  assert.equal(events.at(-1), "synced restart");
  assert.ok(informer.stalenessMs() < 8_000, "alive again since the watch reconnected");
  assert.ok(informer.status().scopes[0]!.restarts >= 5);
  await informer.stop();
});

test("a failed LIST is retried with backoff, never given up", async () => {
  const { timers, transport, informer } = setup();
  let fail = 3;
  transport.listResult = async () => {
    if (fail-- > 0) throw Object.assign(new Error("Forbidden"), { code: 403 });
    return { items: [], metadata: { resourceVersion: "1" } };
  };
  informer.start();
  await timers.advance(60_000);
  assert.equal(informer.hasSynced, true);
  assert.equal(transport.lists.length, 4);
  await informer.stop();
});

test("async handler rejections and throws are caught and logged", async () => {
  const { transport, informer, errors } = setup();
  informer.on("add", async () => {
    throw new Error("async boom");
  });
  informer.on("add", () => {
    throw new Error("sync boom");
  });
  let later = 0;
  informer.on("add", () => void later++);
  informer.start();
  await informer.waitForSync();
  await flush();
  transport.lastWatch.emit("ADDED", obj("x", "2"));
  await flush();
  assert.equal(later, 1, "other handlers still run");
  assert.equal(errors.length, 2);
  assert.ok(errors.some((e) => e.includes("async boom")) && errors.some((e) => e.includes("sync boom")));
  await informer.stop();
});

test("objects failing the transform are dropped, not fatal", async () => {
  const timers = new FakeTimers();
  const transport = new ScriptedTransport();
  transport.listResult = async () => ({ items: [obj("good", "1"), { metadata: { name: "bad" } }], metadata: { resourceVersion: "2" } });
  const informer = new Informer<Obj>({
    transport,
    resource: { group: "g", version: "v1", plural: "things" },
    transform: (raw) => {
      const o = raw as Obj;
      if (!o.metadata.namespace) throw new Error("no namespace");
      return o;
    },
    timers,
  });
  informer.start();
  await informer.waitForSync();
  assert.deepEqual(
    informer.list().map((o) => o.metadata.name),
    ["good"],
  );
  await informer.stop();
});

test("one scope per namespace; hasSynced only when all have listed", async () => {
  const timers = new FakeTimers();
  const transport = new ScriptedTransport();
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => (release = r));
  transport.list = async (namespace) => {
    transport.lists.push({ namespace });
    if (namespace === "slow") await gate;
    return { items: [obj(`in-${namespace}`, "1", namespace)], metadata: { resourceVersion: "3" } };
  };
  const informer = new Informer<Obj>({
    transport,
    resource: { group: "g", version: "v1", plural: "things" },
    transform: (r) => r as Obj,
    timers,
    namespaces: ["fast", "slow"],
  });
  informer.start();
  await flush();
  assert.equal(informer.hasSynced, false);
  assert.equal(informer.list("fast").length, 1);
  release();
  await informer.waitForSync();
  assert.deepEqual(
    informer
      .list()
      .map((o) => o.metadata.name)
      .sort(),
    ["in-fast", "in-slow"],
  );
  await informer.stop();
});

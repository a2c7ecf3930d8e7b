// The folder rules of docs/architecture.md, checked on the import graph of src/ so they stay true:
// the engine is a leaf, the commands sit on top, and no two modules import each other in a circle.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const src = join(root, "src");

function modules(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? modules(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

/** Module (path relative to src/) -> the src modules it imports, type-only imports included. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of modules(src)) {
    const text = readFileSync(file, "utf8");
    const targets = [...text.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s+"(\.[^"]+)"/gms)].map((m) =>
      relative(src, resolve(dirname(file), m[1] ?? "")),
    );
    graph.set(relative(src, file), targets);
  }
  return graph;
}

const graph = importGraph();
const folder = (mod: string) => mod.split("/")[0] ?? "";

test("the import graph was read (a broken reader would pass every rule below)", () => {
  assert.ok(graph.size > 80, `only ${graph.size} modules found under src/`);
  assert.ok((graph.get("daemon/main.ts") ?? []).length > 5, "daemon/main.ts imports nothing?");
});

test("the schedule engine is a leaf: src/schedule/ imports only from itself", () => {
  const upward = [...graph].flatMap(([m, ts]) =>
    folder(m) === "schedule" ? ts.filter((t) => folder(t) !== "schedule").map((t) => `${m} -> ${t}`) : [],
  );
  assert.deepEqual(upward, []);
});

test("outside src/schedule/, the engine is entered through src/schedule/index.ts only", () => {
  const past = [...graph].flatMap(([m, ts]) =>
    folder(m) === "schedule" ? [] : ts.filter((t) => folder(t) === "schedule" && t !== "schedule/index.ts").map((t) => `${m} -> ${t}`),
  );
  assert.deepEqual(past, []);
});

test("no module outside src/cli/ imports from it (the commands are the top layer)", () => {
  const into = [...graph].flatMap(([m, ts]) =>
    folder(m) === "cli" ? [] : ts.filter((t) => folder(t) === "cli").map((t) => `${m} -> ${t}`),
  );
  assert.deepEqual(into, []);
});

test("no import circles", () => {
  const circles: string[] = [];
  const state = new Map<string, "open" | "done">();
  const path: string[] = [];
  const visit = (m: string) => {
    state.set(m, "open");
    path.push(m);
    for (const t of graph.get(m) ?? []) {
      if (state.get(t) === "open") circles.push([...path.slice(path.indexOf(t)), t].join(" -> "));
      else if (!state.has(t)) visit(t);
    }
    path.pop();
    state.set(m, "done");
  };
  for (const m of graph.keys()) if (!state.has(m)) visit(m);
  assert.deepEqual(circles, []);
});

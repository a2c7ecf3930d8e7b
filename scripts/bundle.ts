// `npm run build`: bundles the published bin (src/cli/entry.ts) and everything it imports, the
// dependencies included, into dist/ with esbuild. The image runs the bundle without node_modules.
//
// Why a bundle rather than tsc's one file per module: Node keeps every loaded module's source, its
// compiled functions and the module records, and @kubernetes/client-node alone is ~870 modules
// (every generated model and API group). One file of the same code, whitespace and syntax minified,
// costs ~30 MiB less RSS at start (docs/performance.md, "Memory"). Identifiers are not minified, so
// stack traces keep our function names.
//
// - ESM with code splitting: entry.ts loads the waker (wakerEntry.ts) or the rest of the CLI with a
//   dynamic import, and each becomes its own chunk, so `kserve-reclaimer waker` never loads
//   client-node (test/unit/build/bundle.test.ts checks the waker's chunks).
// - The banner gives the bundle a `require`, which the CommonJS dependencies esbuild wraps use for
//   Node's built-ins.
// - date-holidays, lezer-promql and node-forge are loaded on first use with
//   `createRequire(import.meta.url)("<package>")` (src/schedule/holidays.ts, src/sources/prometheus/
//   scope.ts, src/admission/certificates.ts): most daemons never use them, and bundled into the main
//   chunk their ~2 MB of source would cost ~6 MiB of RSS even unused. So each becomes a CommonJS
//   file of its own, dist/lazy/<package>.cjs, and the lazyRequire plugin rewrites the package name
//   in those calls to that file's path: still loaded on first use, and no node_modules needed.
// - The optional native helpers ws tries in a try/catch (bufferutil, utf-8-validate) are left
//   external: not installed, the require fails and ws uses its JavaScript code, as it does unbundled.
//
// - The licences: the image has no node_modules any more, so the LICENSE file (or package.json's
//   licence field) of every package in the bundle goes into dist/THIRD-PARTY-NOTICES.txt.
// - package.json stays beside dist/: "type": "module", and --version reads ../../package.json from
//   the chunk that runs it (src/cli/dispatch.ts), so every chunk is one directory below dist/.
//
//   node scripts/bundle.ts            # into dist/ (emptied first)
//   node scripts/bundle.ts <outdir>
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build, type Metafile, type Plugin } from "esbuild";

const ROOT = resolve(fileURLToPath(import.meta.url), "..", "..");

/** The published bin, relative to the output directory (package.json `bin`, the Dockerfile's ENTRYPOINT). */
export const BUNDLE_ENTRY = join("cli", "entry.js");

/** Packages that are optional at run time: required in a try/catch by a dependency, never installed. */
const OPTIONAL_EXTERNAL = ["bufferutil", "utf-8-validate"];

/** The packages src/ loads with `createRequire(import.meta.url)("<package>")`, each bundled into lazy/<file>.cjs. */
export const LAZY_PACKAGES: Readonly<Record<string, string>> = {
  "date-holidays": "date-holidays",
  "@prometheus-io/lezer-promql": "lezer-promql",
  "node-forge": "node-forge",
};

// Every chunk but the entry is in chunks/, so from any chunk the lazy files are in ../lazy/.
const CHUNKS = "chunks";
const LAZY = "lazy";
const LAZY_REQUIRE = /createRequire\(import\.meta\.url\)\("([^"]+)"\)/g;

const lazyRequire: Plugin = {
  name: "lazy-require",
  setup(b) {
    b.onLoad({ filter: /[/\\]src[/\\].*\.ts$/ }, (args) => {
      const text = readFileSync(args.path, "utf8");
      const calls = text.split("createRequire(").length - 1;
      if (calls === 0) return undefined;
      let rewritten = 0;
      const contents = text.replace(LAZY_REQUIRE, (call, name: string) => {
        const file = LAZY_PACKAGES[name];
        if (file === undefined) throw new Error(`${args.path}: ${call}: not in LAZY_PACKAGES (scripts/bundle.ts)`);
        rewritten++;
        return `createRequire(import.meta.url)("../${LAZY}/${file}.cjs")`;
      });
      // any other form would still look in node_modules at run time, which the image does not have
      if (rewritten !== calls)
        throw new Error(`${args.path}: createRequire used other than as createRequire(import.meta.url)("<package>")`);
      return { contents, loader: "ts" };
    });
  },
};

// A lazy file's entry is `module.exports = require("<package>")`, so that it resolves the package as
// Node's require() does (the "require" condition of its exports) and exports what require() returns.
const lazyEntry: Plugin = {
  name: "lazy-entry",
  setup(b) {
    b.onResolve({ filter: /^lazy:/ }, (args) => ({ path: args.path.slice("lazy:".length), namespace: "lazy" }));
    b.onLoad({ filter: /.*/, namespace: "lazy" }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(args.path)});`,
      resolveDir: ROOT,
      loader: "js",
    }));
  },
};

const common = {
  absWorkingDir: ROOT,
  bundle: true,
  platform: "node",
  target: "node22.19",
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: "linked",
  // Lines and columns in a stack trace point into the minified chunks; a .map beside each chunk
  // (names and positions only, no copy of the sources) turns them back into src/ paths when Node
  // runs with --enable-source-maps. Not loaded otherwise, so it costs no memory.
  sourcemap: "linked",
  sourcesContent: false,
  external: OPTIONAL_EXTERNAL,
  metafile: true,
  logLevel: "warning",
} as const;

/** Bundles src/cli/entry.ts into outDir (emptied first); returns esbuild's metafile. */
export async function bundle(outDir: string): Promise<Metafile> {
  rmSync(outDir, { recursive: true, force: true });
  const [cli, lazy] = await Promise.all([
    build({
      ...common,
      entryPoints: { [BUNDLE_ENTRY.replace(/\.js$/, "")]: join(ROOT, "src", "cli", "entry.ts") },
      outdir: outDir,
      chunkNames: `${CHUNKS}/[name]-[hash]`,
      splitting: true,
      format: "esm",
      banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
      plugins: [lazyRequire],
    }),
    build({
      ...common,
      entryPoints: Object.fromEntries(Object.entries(LAZY_PACKAGES).map(([name, file]) => [file, `lazy:${name}`])),
      outdir: join(outDir, LAZY),
      outExtension: { ".js": ".cjs" },
      format: "cjs",
      plugins: [lazyEntry],
    }),
  ]);
  for (const out of Object.keys(cli.metafile.outputs)) {
    const rel = relative(outDir, join(ROOT, out));
    if (rel.endsWith(".js") && rel !== BUNDLE_ENTRY && !rel.startsWith(`${CHUNKS}/`)) throw new Error(`${rel}: a chunk outside ${CHUNKS}/`);
  }
  const meta = {
    inputs: { ...cli.metafile.inputs, ...lazy.metafile.inputs },
    outputs: { ...cli.metafile.outputs, ...lazy.metafile.outputs },
  };
  writeFileSync(join(outDir, "THIRD-PARTY-NOTICES.txt"), notices(Object.keys(meta.inputs)));
  return meta;
}

/** Name, version, licence and licence text of every package some input comes from. */
function notices(inputs: readonly string[]): string {
  const dirs = new Set<string>();
  for (const input of inputs) {
    const m = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (m) dirs.add(m[1] as string);
  }
  const parts = [...dirs].sort().map((dir) => {
    const pkg = JSON.parse(readFileSync(join(ROOT, dir, "package.json"), "utf8")) as { name: string; version: string; license?: string };
    const file = readdirSync(join(ROOT, dir)).find((f) => /^(licen[cs]e|copying)(\.(md|txt))?$/i.test(f));
    const text = file ? readFileSync(join(ROOT, dir, file), "utf8").trim() : `License: ${pkg.license ?? "see the package"}`;
    return `${pkg.name}@${pkg.version} (${pkg.license ?? "unknown"})\n\n${text}\n`;
  });
  return `Third-party packages bundled into kserve-reclaimer (scripts/bundle.ts)\n\n${parts.join(`\n${"-".repeat(80)}\n\n`)}`;
}

if (import.meta.main) {
  const outDir = resolve(process.argv[2] ?? join(ROOT, "dist"));
  const meta = await bundle(outDir);
  for (const [file, out] of Object.entries(meta.outputs)) {
    if (/\.c?js$/.test(file)) process.stdout.write(`${relative(ROOT, file)}  ${(out.bytes / 1e6).toFixed(2)} MB\n`);
  }
}

// The file-system adapter of the CLI: expands file and directory arguments into YAML files and reads
// them. Everything after reading (parsing, validation, planning) is pure and lives elsewhere.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { UsageError } from "./io.ts";

export type SourceFile = { path: string; text: string };

const YAML_FILE = /\.ya?ml$/i;

/**
 * Files named directly are read whatever their extension; directories are walked recursively for
 * .yaml/.yml files (sorted, hidden entries skipped). A missing or unreadable path is a UsageError.
 */
export function readSources(paths: readonly string[]): SourceFile[] {
  const out: SourceFile[] = [];
  for (const p of paths) {
    let isDir: boolean;
    try {
      isDir = statSync(p).isDirectory();
    } catch {
      throw new UsageError(`${p}: no such file or directory`);
    }
    const files = isDir ? walk(p) : [p];
    for (const f of files) {
      try {
        out.push({ path: f, text: readFileSync(f, "utf8") });
      } catch (e) {
        throw new UsageError(`${f}: cannot read: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }
  return out;
}

function walk(dir: string): string[] {
  const entries = readdirSync(dir, { withFileTypes: true })
    .filter((e) => !e.name.startsWith("."))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const out: string[] = [];
  for (const e of entries) {
    const full = join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(full));
    else if (e.isFile() && YAML_FILE.test(e.name)) out.push(full);
  }
  return out;
}

// The write-or-check step shared by the generators: a generated file is either rewritten, or with
// `--check` compared with what is committed (exit 1 naming the stale files and the command to run).
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";

/** A repository path (relative to the root) as a file system path. */
export const repoPath = (file: string) => fileURLToPath(new URL(`../${file}`, import.meta.url));

/** A repository file's text, or "" when it does not exist yet. */
export function readRepoFile(file: string): string {
  try {
    return readFileSync(repoPath(file), "utf8");
  } catch {
    return "";
  }
}

export function writeOrCheck(outputs: readonly [file: string, text: string][], command: string, argv: readonly string[]): void {
  const check = argv.includes("--check");
  let stale = 0;
  for (const [file, text] of outputs) {
    if (readRepoFile(file) === text) continue;
    if (check) {
      process.stderr.write(`${file} is out of date: run ${command}\n`);
      stale++;
    } else {
      mkdirSync(dirname(repoPath(file)), { recursive: true });
      writeFileSync(repoPath(file), text);
      process.stdout.write(`wrote ${file}\n`);
    }
  }
  process.exitCode = stale > 0 ? 1 : 0;
}

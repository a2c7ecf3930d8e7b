// The file-system adapter of the CLI: expands file and directory arguments into YAML files and reads
// them, each with a bounded read. Everything after reading (parsing, validation, planning) is pure
// and lives elsewhere.
import { constants, readdirSync, statSync } from "node:fs";
import { open } from "node:fs/promises";
import { join, matchesGlob } from "node:path";
import { parseSources, type LocatedProblem, type ParsedManifests } from "../api/manifests.ts";
import { UsageError } from "./io.ts";

type SourceFile = { path: string; text: string };

/** Most bytes read from one file (and from standard input): far above any real manifest. */
export const MAX_FILE_BYTES = 1024 * 1024;
/** The path that means standard input, and the name its problems are reported under. */
const STDIN = "-";
const STDIN_LABEL = "<stdin>";

const YAML_FILE = /\.ya?ml$/i;

/** A file that was found but is not read whole: reported as a problem of that file, not of the command line. */
type Refused = { path: string; refused: string };

/**
 * Reads the files and parses them with parseSources. `files` counts the files read; a file larger
 * than MAX_FILE_BYTES is a problem at its line 1 (the other files are still checked). Problems are
 * in argument order. `now` (epoch ms) adds warnings about exceptions that are over. Paths matching
 * an `exclude` glob (a directory's too, then it is not walked) are not read.
 */
export async function readManifests(
  paths: readonly string[],
  stdin: () => AsyncIterable<Uint8Array> = () => process.stdin,
  now?: number,
  exclude: readonly string[] = [],
): Promise<ParsedManifests & { files: number }> {
  const read = await readSources(paths, stdin, exclude);
  const sources = read.filter((r): r is SourceFile => "text" in r);
  const parsed = parseSources(sources, now);
  const order = new Map<string, number>();
  read.forEach((r, i) => order.set(r.path, order.get(r.path) ?? i));
  const refusals: LocatedProblem[] = read.flatMap((r) =>
    "refused" in r ? [{ file: r.path, line: 1, name: "-", path: "", message: r.refused }] : [],
  );
  // a stable sort: each file's own problems keep their order
  const problems = [...refusals, ...parsed.problems].sort((a, b) => (order.get(a.file) ?? 0) - (order.get(b.file) ?? 0));
  return { ...parsed, problems, files: read.length };
}

/**
 * Files named directly are read whatever their extension; directories are walked recursively for
 * .yaml/.yml files (sorted, hidden entries skipped); "-" is standard input. A missing or unreadable
 * path, or one that is neither a regular file nor a directory (a FIFO, /dev/zero), is a UsageError:
 * those are refused before they are opened, as opening a FIFO alone can block.
 */
async function readSources(
  paths: readonly string[],
  stdin: () => AsyncIterable<Uint8Array> = () => process.stdin,
  exclude: readonly string[] = [],
): Promise<(SourceFile | Refused)[]> {
  const excluded = (p: string) => exclude.some((g) => matchesGlob(p, g));
  if (paths.filter((p) => p === STDIN).length > 1) throw new UsageError(`${STDIN} (standard input) can be given only once`);
  const files: string[] = [];
  for (const p of paths) {
    if (p === STDIN) {
      files.push(p);
      continue;
    }
    let st: ReturnType<typeof statSync>;
    try {
      st = statSync(p);
    } catch {
      throw new UsageError(`${p}: no such file or directory`);
    }
    if (excluded(p)) continue;
    if (st.isDirectory()) files.push(...walk(p, excluded));
    else if (st.isFile()) files.push(p);
    else
      throw new UsageError(`${p}: not a regular file or directory (FIFOs and devices are not read; give ${STDIN} to read standard input)`);
  }
  const out: (SourceFile | Refused)[] = [];
  for (const f of files) {
    const path = f === STDIN ? STDIN_LABEL : f;
    let bytes: Buffer | undefined;
    try {
      bytes = f === STDIN ? await readStream(stdin(), MAX_FILE_BYTES) : await readFileBounded(f, MAX_FILE_BYTES);
    } catch (e) {
      if (e instanceof UsageError) throw e;
      throw new UsageError(`${f}: cannot read: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (bytes === undefined)
      out.push({
        path,
        refused: `larger than ${MAX_FILE_BYTES / 1024 / 1024} MiB, the most read from one file: split it into smaller files`,
      });
    else out.push({ path, text: bytes.toString("utf8") });
  }
  return out;
}

/** At most `max` bytes; undefined when there are more. Only regular files, opened without blocking. */
async function readFileBounded(path: string, max: number): Promise<Buffer | undefined> {
  // O_NONBLOCK: should the path have become a FIFO since it was checked, open returns at once
  const fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    if (!(await fh.stat()).isFile()) throw new UsageError(`${path}: not a regular file`);
    const buf = Buffer.alloc(max + 1);
    let n = 0;
    while (n < buf.length) {
      const { bytesRead } = await fh.read(buf, n, buf.length - n, null);
      if (bytesRead === 0) break;
      n += bytesRead;
    }
    return n > max ? undefined : buf.subarray(0, n);
  } finally {
    await fh.close();
  }
}

/** At most `max` bytes of a stream; undefined when there are more (and the rest is not read). */
async function readStream(stream: AsyncIterable<Uint8Array>, max: number): Promise<Buffer | undefined> {
  const chunks: Uint8Array[] = [];
  let n = 0;
  for await (const chunk of stream) {
    n += chunk.length;
    if (n > max) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function walk(dir: string, excluded: (path: string) => boolean = () => false): string[] {
  const entries = readdirSync(dir, { withFileTypes: true })
    .filter((e) => !e.name.startsWith("."))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const out: string[] = [];
  for (const e of entries) {
    const full = join(dir, e.name);
    if (excluded(full)) continue;
    if (e.isDirectory()) out.push(...walk(full, excluded));
    else if (e.isFile() && YAML_FILE.test(e.name)) out.push(full);
  }
  return out;
}

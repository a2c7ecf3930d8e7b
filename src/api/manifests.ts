// YAML text -> ServingSchedules and ClusterServingSchedules, and located problems. Pure (no file system): the CLI reads files and
// hands their text here. Multi-document YAML; other kinds are skipped silently (a manifests directory
// holds Deployments too), but reclaimer.dev objects of an unknown version or kind are errors, and so is
// a ServingSchedule under another apiVersion (a typo would otherwise be skipped unnoticed).
import { Composer, LineCounter, Parser, isMap, isSeq, isScalar, isPair, type Document, type Node } from "yaml";
import type { ClusterServingSchedule, ServingSchedule } from "./servingSchedule.ts";
import { classifyDocument, formatPath, scheduleName, validateServingSchedule, type PathSegment } from "./validate.ts";

/** One problem, located: `<file>:<line>: <namespace/name>: <field path>: <message>`. */
export type LocatedProblem = { file: string; line: number; name: string; path: string; message: string };
export type LocatedSchedule = { file: string; line: number; name: string; schedule: ServingSchedule | ClusterServingSchedule };
/** `warnings` (messages starting "warning: ") are about valid schedules and never make them invalid. */
export type ParsedManifests = { schedules: LocatedSchedule[]; problems: LocatedProblem[]; warnings?: LocatedProblem[] };

export function formatProblem(p: LocatedProblem): string {
  const parts = [`${p.file}:${p.line}`, p.name];
  parts.push(p.path || "-");
  parts.push(p.message);
  return parts.join(": ");
}

/** Most YAML documents read from one file; the parser stops at the next one, so the work is bounded too. */
export const MAX_DOCUMENTS = 1000;

/** Parses one file's text. `file` is only used to label problems; `now` as in validateServingSchedule. */
export function parseManifests(text: string, file: string, now?: number): ParsedManifests {
  const lc = new LineCounter();
  const composer = new Composer({ uniqueKeys: true });
  const out: ParsedManifests = { schedules: [], problems: [] };
  const lineOf = (offset: number) => lc.linePos(offset).line;
  let count = 0;
  // lazily, document by document, so that a file of endless documents stops at the limit
  for (const doc of composer.compose(new Parser(lc.addNewLine).parse(text))) {
    if (++count > MAX_DOCUMENTS) {
      const message = `more than ${MAX_DOCUMENTS} YAML documents in one file, the most read: the rest is not checked; split the file`;
      out.problems.push({ file, line: lineOf(doc.range[0]), name: "-", path: "", message });
      break;
    }
    if (doc.errors.length > 0) {
      // one error per document: after the first, the parser's view of the rest (a Helm template, say) is noise
      const e = doc.errors[0] as (typeof doc.errors)[number];
      out.problems.push({
        file,
        line: e.linePos?.[0]?.line ?? lineOf(e.pos[0]),
        name: "-",
        path: "",
        message: `YAML: ${yamlMessage(e.message)}`,
      });
      continue;
    }
    if (doc.contents === null) continue; // an empty document (e.g. after a trailing ---)
    let obj: unknown;
    try {
      obj = doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      out.problems.push({
        file,
        line: lineOf(doc.contents.range?.[0] ?? 0),
        name: "-",
        path: "",
        message: `YAML: ${e instanceof Error ? e.message : String(e)}`,
      });
      continue;
    }
    const kind = classifyDocument(obj);
    if (kind.kind === "foreign") continue;
    const name = scheduleName(obj);
    const locate = (segments: readonly PathSegment[]) => lineOf(offsetOf(doc, segments));
    if (kind.kind === "wrong") {
      out.problems.push({ file, line: locate(kind.segments), name, path: formatPath(kind.segments), message: kind.message });
      continue;
    }
    const result = validateServingSchedule(obj, now);
    if (result.ok) {
      out.schedules.push({ file, line: lineOf(doc.contents.range?.[0] ?? 0), name, schedule: result.schedule });
      for (const w of result.warnings)
        (out.warnings ??= []).push({ file, line: locate(w.segments), name, path: w.path, message: w.message });
    } else {
      const located = result.problems.map((p) => ({ file, line: locate(p.segments), name, path: p.path, message: p.message }));
      out.problems.push(...located.sort((a, b) => a.line - b.line));
    }
  }
  return out;
}

/** The yaml library's messages end with a code excerpt after a colon and newline; keep the first line. */
function yamlMessage(message: string): string {
  return (message.split("\n")[0] ?? message).replace(/:$/, "").replace(/ at line \d+, column \d+$/, "");
}

/**
 * Offset of the node at `segments`: the key of a mapping entry (so a nested mapping is reported at its
 * key's line), the item of a list; for a path that does not exist (a missing field), its deepest
 * existing ancestor.
 */
function offsetOf(doc: Document, segments: readonly PathSegment[]): number {
  let node: unknown = doc.contents;
  let offset = (doc.contents as Node | null)?.range?.[0] ?? 0;
  for (const seg of segments) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && keyText(p.key) === String(seg));
      if (!pair) break;
      const key = pair.key as Node | null;
      offset = key?.range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === "number") {
      const item = node.items[seg] as Node | undefined;
      if (!item) break;
      offset = item.range?.[0] ?? offset;
      node = item;
    } else break;
  }
  return offset;
}

function keyText(key: unknown): string | undefined {
  if (isScalar(key)) return String(key.value);
  return undefined;
}

/** Parses several files and reports a schedule defined twice (same namespace/name) at its second definition. */
export function parseSources(sources: readonly { path: string; text: string }[], now?: number): ParsedManifests {
  const out: ParsedManifests = { schedules: [], problems: [] };
  const seen = new Map<string, LocatedSchedule>();
  for (const src of sources) {
    const parsed = parseManifests(src.text, src.path, now);
    out.problems.push(...parsed.problems);
    if (parsed.warnings) (out.warnings ??= []).push(...parsed.warnings);
    for (const s of parsed.schedules) {
      const first = seen.get(s.name);
      if (first) {
        out.problems.push({
          file: s.file,
          line: s.line,
          name: s.name,
          path: "metadata.name",
          message: `defined twice (first at ${first.file}:${first.line})`,
        });
        continue;
      }
      seen.set(s.name, s);
      out.schedules.push(s);
    }
  }
  return out;
}

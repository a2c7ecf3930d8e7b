// Confines a tenant's PromQL to one namespace before the daemon sends it with its own credentials,
// in the manner of prom-label-proxy: every vector selector loses whatever matchers it had on the
// tenant label and gains `<label>="<namespace>"`. Selectors are the only way PromQL reads series,
// so a query whose every selector is pinned can only see that namespace's series, whatever the
// functions, operators, subqueries or modifiers around them do.
//
// The query is parsed with the Prometheus project's own grammar (@prometheus-io/lezer-promql) and
// rewritten by source ranges. Anything the grammar does not accept cleanly, or that this module
// cannot reason about, is refused rather than sent. The rewritten text is parsed again and checked,
// so a mistake in the rewrite shows up as a refusal, not as a leak. Pure: no I/O.
import { createRequire } from "node:module";
import type { parser as PromqlParser } from "@prometheus-io/lezer-promql";

type SyntaxNode = ReturnType<typeof PromqlParser.parse>["topNode"];

// Loaded on first use: only installs that allow custom queries parse PromQL, and the grammar costs
// the others a few MiB of memory for nothing.
let loaded: typeof PromqlParser | undefined;
function promql(): typeof PromqlParser {
  loaded ??= (createRequire(import.meta.url)("@prometheus-io/lezer-promql") as { parser: typeof PromqlParser }).parser;
  return loaded;
}

export type ScopeResult = { kind: "ok"; promql: string } | { kind: "error"; error: string };

// Kubernetes namespace names are DNS-1123 labels. Checking this (instead of only escaping) means no
// namespace value can ever contain a quote or backslash that changes the meaning of the matcher.
const NAMESPACE = /^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

// info() joins its input with info series it looks up itself, outside the selectors written in the
// query; it is experimental in Prometheus and not worth the risk of reasoning about its lookups.
const REFUSED_FUNCTIONS = new Set(["Info"]);

// Children a LabelMatchers node may have. Anything else (a newer grammar's construct) is refused.
const MATCHER_CHILDREN = new Set(["UnquotedLabelMatcher", "QuotedLabelMatcher", "QuotedLabelName", "LineComment"]);

function position(query: string, offset: number): string {
  const before = query.slice(0, offset);
  const line = before.split("\n").length;
  const column = offset - (before.lastIndexOf("\n") + 1) + 1;
  return `line ${line}, column ${column}`;
}

function parse(query: string): { kind: "ok"; top: SyntaxNode } | { kind: "error"; error: string } {
  const tree = promql().parse(query);
  let problem: string | undefined;
  tree.iterate({
    enter(ref) {
      if (problem !== undefined) return false;
      if (ref.type.isError) {
        problem = `does not parse as PromQL at ${position(query, ref.from)}`;
        return false;
      }
      if (ref.name === "FunctionIdentifier") {
        const fn = ref.node.firstChild;
        if (fn !== null && REFUSED_FUNCTIONS.has(fn.name))
          problem = `uses ${query.slice(ref.from, ref.to)}(), which is not allowed in a custom query`;
      }
      return undefined;
    },
  });
  if (problem !== undefined) return { kind: "error", error: problem };
  return { kind: "ok", top: tree.topNode };
}

function children(node: SyntaxNode): SyntaxNode[] {
  const out: SyntaxNode[] = [];
  for (let child = node.firstChild; child !== null; child = child.nextSibling) out.push(child);
  return out;
}

function vectorSelectors(top: SyntaxNode): SyntaxNode[] {
  const found: SyntaxNode[] = [];
  top.cursor().iterate((ref) => {
    if (ref.name !== "VectorSelector") return undefined;
    found.push(ref.node);
    // selectors do not nest: nothing inside one is another
    return false;
  });
  return found;
}

/**
 * The label name a matcher node tests, or an error. Quoted names ("namespace"="b", Prometheus 3's
 * UTF-8 syntax) count as well as bare ones; a quoted name with escape sequences is refused, since
 * decoding it differently from Prometheus would let `"name\x73pace"` slip past.
 */
function matcherLabel(query: string, matcher: SyntaxNode): { kind: "ok"; name: string } | { kind: "error"; error: string } {
  if (matcher.name === "UnquotedLabelMatcher") {
    const name = matcher.getChild("LabelName");
    if (name === null) return { kind: "error", error: `a label matcher without a label name at ${position(query, matcher.from)}` };
    return { kind: "ok", name: query.slice(name.from, name.to) };
  }
  const literal = matcher.getChild("QuotedLabelName")?.getChild("StringLiteral");
  if (literal === null || literal === undefined)
    return { kind: "error", error: `a label matcher without a label name at ${position(query, matcher.from)}` };
  const text = query.slice(literal.from, literal.to);
  const inner = text.slice(1, -1);
  if (inner.includes("\\"))
    return {
      kind: "error",
      error: `a quoted label name with an escape sequence at ${position(query, literal.from)} is not allowed in a custom query`,
    };
  return { kind: "ok", name: inner };
}

/**
 * Rewrites `query` so every vector selector is pinned to `label="namespace"`, or says why it cannot.
 * Existing matchers on `label` (=, !=, =~, !~, bare or quoted) are removed, all others kept as written.
 */
export function scopeToNamespace(query: string, label: string, namespace: string): ScopeResult {
  if (!LABEL_NAME.test(label)) return { kind: "error", error: `${JSON.stringify(label)} is not a Prometheus label name` };
  if (!NAMESPACE.test(namespace)) return { kind: "error", error: `${JSON.stringify(namespace)} is not a Kubernetes namespace name` };
  const parsed = parse(query);
  if (parsed.kind === "error") return parsed;
  const pin = `${label}=${JSON.stringify(namespace)}`;

  const edits: { from: number; to: number; text: string }[] = [];
  for (const selector of vectorSelectors(parsed.top)) {
    const name = selector.getChild("Identifier");
    const matchers = selector.getChild("LabelMatchers");
    const kept: string[] = [];
    for (const child of matchers === null ? [] : children(matchers)) {
      if (!MATCHER_CHILDREN.has(child.name))
        return { kind: "error", error: `unsupported selector syntax at ${position(query, child.from)}` };
      if (child.name === "LineComment") continue;
      // A bare quoted name inside the braces is the metric name ({"my.metric"}), not a matcher.
      if (child.name !== "QuotedLabelName") {
        const tested = matcherLabel(query, child);
        if (tested.kind === "error") return tested;
        if (tested.name === label) continue;
      }
      kept.push(query.slice(child.from, child.to));
    }
    kept.push(pin);
    const metric = name === null ? "" : query.slice(name.from, name.to);
    edits.push({ from: selector.from, to: selector.to, text: `${metric}{${kept.join(", ")}}` });
  }

  let out = query;
  for (const edit of edits.sort((a, b) => b.from - a.from)) out = out.slice(0, edit.from) + edit.text + out.slice(edit.to);
  const problem = checkScoped(out, label, namespace);
  if (problem !== undefined) return { kind: "error", error: `could not be confined to namespace ${namespace}: ${problem}` };
  return { kind: "ok", promql: out };
}

/**
 * Undefined when `query` parses and every vector selector in it has exactly one matcher on `label`,
 * and that matcher is `label="namespace"`; otherwise the problem. Run on every query before it is
 * sent, including the final one with the daemon's own wrapper around the tenant's part.
 */
export function checkScoped(query: string, label: string, namespace: string): string | undefined {
  const parsed = parse(query);
  if (parsed.kind === "error") return parsed.error;
  const expected = JSON.stringify(namespace);
  for (const selector of vectorSelectors(parsed.top)) {
    const matchers = selector.getChild("LabelMatchers");
    let pins = 0;
    for (const child of matchers === null ? [] : children(matchers)) {
      if (!MATCHER_CHILDREN.has(child.name)) return `unsupported selector syntax at ${position(query, child.from)}`;
      if (child.name === "LineComment" || child.name === "QuotedLabelName") continue;
      const tested = matcherLabel(query, child);
      if (tested.kind === "error") return tested.error;
      if (tested.name !== label) continue;
      const op = child.getChild("MatchOp")?.firstChild?.name;
      const value = child.getChild("StringLiteral");
      if (op !== "EqlSingle" || value === null || query.slice(value.from, value.to) !== expected) {
        return `selector ${query.slice(selector.from, selector.to)} is not limited to ${label}=${expected}`;
      }
      pins += 1;
    }
    if (pins !== 1) return `selector ${query.slice(selector.from, selector.to)} is not limited to ${label}=${expected}`;
  }
  return undefined;
}

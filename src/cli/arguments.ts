// The command-line arguments the commands share: how flags are parsed, which InferenceService
// (`status`, `wake`, `sleep`), and for how long to keep it up (`wake --for`). Every mistake here is a
// usage error (exit 2), reported before the cluster is read.
import { parseBoundedDuration } from "../schedule/index.ts";
import { type FlagTable, parseFlags } from "../config/flags.ts";
import { UsageError } from "./io.ts";

/** Positionals allowed; every problem (unknown flag, missing value) in one usage error. */
export function parseCommandLine<T extends FlagTable>(argv: string[], table: T) {
  const parsed = parseFlags(argv, table);
  if (parsed.problems.length > 0) throw new UsageError(parsed.problems.join("; "));
  return parsed;
}

export type Target = { namespace: string; name: string };

/** "ns/name", or "name" in the default namespace (-n, else the kubeconfig context's). */
export function parseTarget(text: string | undefined, defaultNamespace: string, command: string): Target {
  if (text === undefined || text === "") throw new UsageError(`${command} needs an InferenceService: ${command} <namespace>/<name>`);
  const parts = text.split("/");
  const dns = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
  if (parts.length > 2 || parts.some((p) => !dns.test(p))) throw new UsageError(`"${text}" is not <namespace>/<name> or <name>`);
  return parts.length === 2
    ? { namespace: parts[0] as string, name: parts[1] as string }
    : { namespace: defaultNamespace, name: parts[0] as string };
}

/** wake and sleep act on one service: a second one is more likely a slip than a wish to act on both. */
export function oneTarget(positionals: string[], namespace: string | undefined, command: string): Target {
  if (positionals.length !== 1) throw new UsageError(`${command} takes exactly one InferenceService: ${command} <namespace>/<name>`);
  return parseTarget(positionals[0], namespace ?? "", command);
}

/** wake --for: a minute to a year; longer is a typo, and beyond year 275760 no date exists to write. */
const WAKE_FOR_BOUNDS = { min: 60_000, max: 366 * 24 * 3_600_000 } as const;

/** --for: a Go-style duration ("2h", "90m", "1h30m") within WAKE_FOR_BOUNDS. */
export function parseFor(text: string): number {
  const parsed = parseBoundedDuration("--for", text.trim(), WAKE_FOR_BOUNDS);
  if (!parsed.ok) throw new UsageError(parsed.message);
  return parsed.ms;
}

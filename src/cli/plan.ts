// `plan -f <file|dir>... [--from ISO] [--until ISO | --days N] [--output table|json]`: the shell around
// src/plan/plan.ts. The clock is read here (for the default --from), and only here.
// `plan --cluster [-n ns | -A]`: the same, for the ServingSchedules in the cluster and the
// ClusterServingSchedules that reach the namespace.
import { formatProblem } from "../api/manifests.ts";
import type { ServingScheduleSpec } from "../api/servingSchedule.ts";
import {
  DEFAULT_DAYS,
  MAX_DAYS,
  MAX_TRANSITIONS,
  parseTimeArg,
  planSchedule,
  PlanLimitError,
  PlanRangeError,
  renderPlanJson,
  renderPlanTable,
  type SchedulePlan,
  type TimeArg,
  type UntilArg,
} from "../plan/plan.ts";
import { readManifests } from "./files.ts";
import { visible } from "../report/visible.ts";
import { parseCommandLine } from "./arguments.ts";
import { CLUSTER_OPTIONS, connect, readScheduleScope, reporting, warnOnce } from "./cluster.ts";
import { scheduleLabel } from "./decision.ts";
import type { FlagTable } from "../config/flags.ts";
import { EXIT_INVALID, EXIT_OK, LimitError, UsageError, type CliIO, type Command } from "./io.ts";

const PLAN_FLAGS = {
  filename: {
    type: "string",
    short: "f",
    multiple: true,
    value: "PATH",
    description:
      "file or directory with ServingSchedules, - for standard input (positional paths work too; at most 1 MiB and 1000 documents per file)",
  },
  from: {
    type: "string",
    value: "ISO",
    defaultText: "now",
    description:
      'start of the interval; with "Z" or an offset an instant, without ("2026-12-01", "2026-12-01T08:00") local time in each schedule\'s zone',
  },
  until: { type: "string", value: "ISO", description: "end of the interval, same forms as --from (instead of --days)" },
  days: {
    type: "string",
    value: "N",
    defaultText: String(DEFAULT_DAYS),
    description: `length of the interval in calendar days of each schedule's zone, 1 to ${MAX_DAYS} (more than ${MAX_TRANSITIONS} changes is refused)`,
  },
  output: { type: "string", short: "o", default: "table", value: "FORMAT", description: "table or json" },
  cluster: { type: "boolean", default: false, description: "read the ServingSchedules from the cluster instead of files" },
  "all-namespaces": { type: "boolean", short: "A", default: false, description: "with --cluster: every namespace" },
  namespace: { ...CLUSTER_OPTIONS.namespace, description: "with --cluster: namespace" },
  kubeconfig: { ...CLUSTER_OPTIONS.kubeconfig, description: "with --cluster: kubeconfig file" },
  context: { ...CLUSTER_OPTIONS.context, description: "with --cluster: kubeconfig context to use" },
} as const satisfies FlagTable;

export const planCommand: Command = {
  name: "plan",
  summary: "print when each ServingSchedule runs and stops",
  usage: `plan -f <file|dir|->... [--from ISO] [--until ISO | --days N] [--output table|json]
       plan --cluster [-n namespace | -A] [--from ISO] [--until ISO | --days N] [--output table|json]

The plan lists the state right after --from and every state change in (--from, --until]. With
--cluster, invalid schedules are reported on stderr (exit 1) and the others planned.`,
  flags: PLAN_FLAGS,
  run(argv: string[], io: CliIO): number | Promise<number> {
    const { values, positionals } = parseCommandLine(argv, PLAN_FLAGS);
    const paths = [...(values.filename ?? []), ...positionals];
    if (values.cluster && paths.length > 0) throw new UsageError("give -f <file|dir> or --cluster, not both");
    if (
      !values.cluster &&
      (values.namespace !== undefined || values["all-namespaces"] || values.kubeconfig !== undefined || values.context !== undefined)
    ) {
      throw new UsageError("-n, -A, --kubeconfig and --context go with --cluster");
    }
    if (values.namespace !== undefined && values["all-namespaces"]) throw new UsageError("give -n or -A, not both");
    if (!values.cluster && paths.length === 0) throw new UsageError("plan needs -f <file|dir> or --cluster");
    const output = values.output;
    if (output !== "table" && output !== "json") throw new UsageError(`--output must be table or json, not "${output}"`);
    const from: TimeArg = values.from === undefined ? { kind: "instant", ms: io.now() } : timeArg("--from", values.from);
    if (values.until !== undefined && values.days !== undefined) throw new UsageError("give --until or --days, not both");
    let until: UntilArg = { kind: "days", days: DEFAULT_DAYS };
    if (values.until !== undefined) until = { kind: "time", at: timeArg("--until", values.until) };
    if (values.days !== undefined) {
      if (!/^[1-9][0-9]{0,3}$/.test(values.days) || Number(values.days) > MAX_DAYS) {
        throw new UsageError(`--days must be a whole number from 1 to ${MAX_DAYS}, not "${values.days}"`);
      }
      until = { kind: "days", days: Number(values.days) };
    }

    const render = (list: { name: string; spec: ServingScheduleSpec; file?: string }[]): void => {
      let plans: SchedulePlan[];
      try {
        plans = list.map((s) => planSchedule(s.name, s.spec, from, until, s.file));
      } catch (e) {
        if (e instanceof PlanRangeError) throw new UsageError(e.message);
        if (e instanceof PlanLimitError) throw new LimitError(e.message);
        throw e;
      }
      io.out(output === "json" ? renderPlanJson(plans) : renderPlanTable(plans) + policyLines(list));
    };

    if (values.cluster) {
      return reporting("plan", io, async () => {
        const client = connect(values);
        const namespace = values["all-namespaces"] ? undefined : (values.namespace ?? client.defaultNamespace);
        const entries = (await readScheduleScope(client, namespace, warnOnce(io))).entries.sort((a, b) =>
          a.key < b.key ? -1 : a.key > b.key ? 1 : 0,
        );
        const invalid = entries.filter((e) => !e.ok);
        for (const e of invalid) io.err(`${visible(`${scheduleLabel(e.key)}: invalid: ${e.message}`)}\n`);
        const valid = entries.flatMap((e) => (e.ok ? [{ name: scheduleLabel(e.key), spec: e.spec }] : []));
        if (entries.length === 0) {
          io.err(`no ServingSchedule found ${namespace === undefined ? "in any namespace" : `in namespace ${namespace}`}\n`);
          return EXIT_INVALID;
        }
        if (valid.length > 0) render(valid);
        return invalid.length > 0 ? EXIT_INVALID : EXIT_OK;
      });
    }

    return readManifests(paths).then(({ schedules, problems }) => {
      for (const p of problems) io.err(`${visible(formatProblem(p))}\n`);
      if (problems.length > 0) return EXIT_INVALID;
      if (schedules.length === 0) {
        io.err("no ServingSchedule found\n");
        return EXIT_INVALID;
      }
      render(schedules.map((s) => ({ name: s.name, spec: s.schedule.spec, ...(s.file === undefined ? {} : { file: s.file }) })));
      return EXIT_OK;
    });
  },
};

function timeArg(flag: string, text: string): TimeArg {
  const t = parseTimeArg(text);
  if (!t)
    throw new UsageError(
      `${flag} must be an ISO 8601 date or date-time such as 2026-12-01, 2026-12-01T08:00 or 2026-12-01T08:00:00+01:00, not "${text}"`,
    );
  return t;
}

/**
 * What the daemon does between the plan's transitions, which the plan cannot show as times: idle
 * stops and wake on request. Empty when no schedule has either.
 */
export function policyLines(list: readonly { name: string; spec: ServingScheduleSpec }[]): string {
  const lines: string[] = [];
  for (const { name, spec } of list) {
    const parts: string[] = [];
    if (spec.idle) parts.push(`stopped after ${spec.idle.after} idle (at most ${spec.idle.threshold} req/s)`);
    if (spec.wake?.onRequest)
      parts.push(
        `woken by a request while stopped by the daemon (requests held up to ${spec.wake.timeout}, at most ${spec.wake.maxHeldRequests})`,
      );
    if (parts.length > 0) lines.push(`  ${visible(name)}: ${parts.join("; ")}\n`);
  }
  return lines.length === 0 ? "" : `\nBetween transitions (the daemon, not this plan):\n${lines.join("")}`;
}

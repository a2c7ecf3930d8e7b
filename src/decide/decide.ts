// The whole decision for one InferenceService, as a pure function: facts in, decision out.
// No I/O and no clock: `now` is an argument. The daemon applies the decision; `status` and tests
// call the same function, so what is reported is what is done.
//
// The rules, in order of precedence:
//   1. Not selected by a valid schedule, `reclaimer.dev/exclude: "true"`, or ModelMesh mode: hands off.
//   2. `reclaimer.dev/keep-running-until` in the future: Running (started if stopped), never stopped.
//   3. A person stopped it (stop annotation set, but the daemon's record does not say it did): it
//      stays stopped; the daemon never starts it.
//   4. A person started it while the daemon had it stopped: it stays up until the schedule's next
//      transition (a "hold"); idle rules still apply, timed from when it became Ready.
//   5. The schedule is edge-triggered: the daemon applies the schedule's state once per period (the
//      span between two transitions, or since the schedule was last edited) and then leaves its
//      own result alone. So an idle stop at 14:00
//      lasts until the next Running transition instead of being undone at 14:00:15, and a restarted
//      daemon catches up with exactly the transitions it missed and nothing twice.
//   6. A service created during the current period, after the schedule, with no record, is a
//      person's fresh start: left as it is until the next transition. Services that predate the
//      schedule are adopted: a schedule applied at 22:00 stops them at once.
//   7. Running and idle: Ready for at least `idle.after` and at most `threshold` req/s over that
//      window: stop with reason Idle. Unknown traffic is never zero: it follows whenMetricsUnavailable.
//   8. `suspend` and dry runs decide everything and apply nothing.
// Between 3 and 4, wake on request: a service the daemon stopped (any reason) whose schedule has
// wake.onRequest, and for which a wake request arrived at or after that stop, is started with reason
// Request. A person's stop (3) is never woken. Once woken it is under its policy again: rule 5 sees
// this period's start and runs the idle rule (timed from Ready), and the next transition applies.
import { isStopSet, parseRfc3339, readKeepRunningUntil, readState, EXCLUDE, type ReclaimerState } from "../api/annotations.ts";
import type { IdlePolicy, WakePolicy } from "../api/servingSchedule.ts";
import { parseDuration } from "../schedule/index.ts";
import type { State, StateAt, Transition } from "../schedule/index.ts";
import type { Traffic } from "../sources/prometheus/traffic.ts";

/** What the schedule says at the decision instant; computed once per schedule, shared by its services. */
export type ScheduleMoment = {
  /** namespace/name of the governing ServingSchedule. */
  key: string;
  now: StateAt;
  /** Instant of the last real transition at or before now; -Infinity when none in the look-back. */
  periodStart: number;
  next: Transition | undefined;
  /** When the schedule was created: a service that predates it is adopted, not treated as new. */
  createdAt: number;
  /** metadata.generation: a record made under another generation (or schedule) does not count for this period. */
  generation: number | undefined;
  idle: IdlePolicy | undefined;
  /** Wake on request; absent or onRequest false: a stopped service waits for its schedule. */
  wake?: WakePolicy | undefined;
  suspend: boolean;
  dryRun: boolean;
};

export type ServiceFacts = {
  namespace: string;
  name: string;
  createdAt: number;
  annotations: Record<string, string>;
  /** Deployment mode from the annotation, else the cluster default the daemon was told. */
  deploymentMode: string | undefined;
  /** Ready condition: status and when it last changed. */
  ready: { status: "True" | "False" | "Unknown"; since: number } | undefined;
  /** KServe says it acted on the stop (per kind: src/sources/kube/service.ts kserveStopped). */
  stoppedByKServe: boolean;
  gpus: number;
  /** Why KServe would ignore the stop annotation on this service; it is then left alone. */
  unsupported?: string | undefined;
};

export type { Traffic };

export type DecideInput = {
  now: number;
  service: ServiceFacts;
  schedule: ScheduleMoment | undefined;
  /** Trailing request rate over idle.after; absent when the schedule has no idle policy. */
  traffic: Traffic | undefined;
  globalDryRun: boolean;
  /**
   * The last wake request (a client called the service through the waker), if the daemon holds
   * one: kept in memory only, since the waker asks again every second or two while it holds requests.
   */
  wakeRequestedAt?: number | undefined;
};

export type Action = "stop" | "start" | "record" | "none";

export type Skip = "NotSelected" | "Excluded" | "Unsupported" | "ManualStop" | "Suspended" | "DryRun";

export type Decision = {
  /** The patch to apply, if any: stop/start set the stop annotation; record only writes reclaimer.dev/state (a person's start). */
  action: Action;
  /** The state the service has now, as the annotation says. */
  observed: State;
  /** The state the service should have after this decision. */
  desired: State;
  /** Users' word for why: Schedule, Warmup, Exception, Idle, MetricsUnavailable, KeepRunningUntil, ManualStop, ManualStart, NewService, Request. */
  reason: string;
  /** Set when the daemon holds back from acting; the action it would have taken is still in `wouldDo`. */
  skip?: Skip;
  wouldDo?: Action;
  message: string;
  /** The record to write with the patch. */
  record?: ReclaimerState;
  /** When this service must be decided again even if nothing changes (hold or keep-running expiry, idle eligibility). */
  recheckAt?: number;
  /** The governing schedule's confirmation view: KServe agrees with the annotation. */
  confirmed: boolean;
};

export function decide(input: DecideInput): Decision {
  const { service, schedule } = input;
  const annotations = service.annotations;
  const stopSet = isStopSet(annotations);
  const observed: State = stopSet ? "Stopped" : "Running";
  const confirmed = stopSet ? service.stoppedByKServe : !service.stoppedByKServe && service.ready?.status === "True";
  const base = { observed, confirmed };
  const leave = (reason: string, skip: Skip, message: string, extra: Partial<Decision> = {}): Decision => ({
    ...base,
    action: "none",
    desired: observed,
    reason,
    skip,
    message,
    ...extra,
  });

  if (!schedule) return leave("NotSelected", "NotSelected", "no valid ServingSchedule selects this service");
  if ((annotations[EXCLUDE] ?? "").toLowerCase() === "true") {
    return leave("Excluded", "Excluded", `${EXCLUDE}: "true"; hands off`);
  }
  if ((service.deploymentMode ?? "").toLowerCase() === "modelmesh") {
    return leave("Unsupported", "Unsupported", "ModelMesh mode: KServe ignores serving.kserve.io/stop");
  }
  if (service.unsupported !== undefined) return leave("Unsupported", "Unsupported", service.unsupported);

  const decision = decideManaged(input, schedule, stopSet);
  const full: Decision = { ...base, ...decision };
  if (full.action === "none") return full;
  if (schedule.suspend)
    return {
      ...full,
      wouldDo: full.action,
      action: "none",
      skip: "Suspended",
      desired: observed,
      message: `suspended; would ${full.action}: ${full.message}`,
    };
  if (schedule.dryRun || input.globalDryRun) {
    return {
      ...full,
      wouldDo: full.action,
      action: "none",
      skip: "DryRun",
      desired: observed,
      message: `dry run; would ${full.action}: ${full.message}`,
    };
  }
  return full;
}

type Partial2 = Omit<Decision, "observed" | "confirmed">;

function decideManaged(input: DecideInput, schedule: ScheduleMoment, stopSet: boolean): Partial2 {
  const { now, service } = input;
  const annotations = service.annotations;
  const parsed = readState(annotations);
  const record = parsed.kind === "ok" ? parsed.state : undefined;
  const iso = (ms: number) => new Date(ms).toISOString();
  const nextAt = schedule.next?.at;
  const make = (action: "stop" | "start" | "hold", reason: string, extra: Partial<ReclaimerState> = {}): ReclaimerState => ({
    v: 1,
    action,
    reason,
    schedule: schedule.key,
    at: iso(now),
    ...(schedule.generation !== undefined ? { generation: schedule.generation } : {}),
    ...extra,
  });

  // 2. keep-running-until (not RFC 3339: as if absent; the shell reports it)
  const keep = readKeepRunningUntil(annotations);
  if (keep.kind === "ok") {
    const { until, raw: keepRaw } = keep;
    if (now < until) {
      if (stopSet) {
        return {
          action: "start",
          desired: "Running",
          reason: "KeepRunningUntil",
          message: `kept running until ${keepRaw}`,
          record: make("start", "KeepRunningUntil"),
          recheckAt: until,
        };
      }
      return { action: "none", desired: "Running", reason: "KeepRunningUntil", message: `kept running until ${keepRaw}`, recheckAt: until };
    }
  }

  // 3. a person stopped it
  if (stopSet && record?.action !== "stop") {
    return {
      action: "none",
      desired: "Stopped",
      reason: "ManualStop",
      skip: "ManualStop",
      message: "stopped by a person; the daemon will not start it",
    };
  }

  // wake on request: only what the daemon itself stopped, and only for a request made after that stop
  if (stopSet && record?.action === "stop" && schedule.wake?.onRequest === true && input.wakeRequestedAt !== undefined) {
    const stoppedAt = parseRfc3339(record.at) ?? Number.POSITIVE_INFINITY;
    if (input.wakeRequestedAt >= stoppedAt) {
      return {
        action: "start",
        desired: "Running",
        reason: "Request",
        message: `woken by a request at ${iso(input.wakeRequestedAt)} (stopped by the daemon: ${record.reason})`,
        record: make("start", "Request"),
        ...recheck(nextAt),
      };
    }
  }

  // 4. a person started it while the daemon had it stopped
  if (!stopSet && record?.action === "stop") {
    if (schedule.now.state === "Running") {
      // The schedule wants it up anyway: adopt the running state, nothing to hold.
      return {
        action: "record",
        desired: "Running",
        reason: "ManualStart",
        message: "started by a person; the schedule agrees",
        record: make("start", "ManualStart", optionalTransition(schedule)),
      };
    }
    const until = nextAt;
    return {
      action: "record",
      desired: "Running",
      reason: "ManualStart",
      message:
        until === undefined
          ? "started by a person; left up (no further transition)"
          : `started by a person; left up until the next transition at ${iso(until)}`,
      record: make("hold", "ManualStart", until === undefined ? {} : { until: iso(until) }),
      ...(until === undefined ? {} : { recheckAt: until }),
    };
  }
  if (record?.action === "hold" && !stopSet) {
    const until = record.until === undefined ? Number.POSITIVE_INFINITY : (parseRfc3339(record.until) ?? Number.NEGATIVE_INFINITY);
    if (now < until) {
      const idle = idleDecision(input, schedule, make);
      if (idle) return idle;
      return {
        action: "none",
        desired: "Running",
        reason: "ManualStart",
        message: `started by a person; left up until ${record.until ?? "further notice"}`,
        ...(Number.isFinite(until) ? { recheckAt: until } : {}),
      };
    }
  }

  // 5. edge-triggered schedule
  const actedAt = record === undefined ? Number.NEGATIVE_INFINITY : actedInstant(record);
  // Acted in this period, under this schedule as it is now: editing a schedule is an edge too.
  const sameSchedule =
    record !== undefined &&
    record.schedule === schedule.key &&
    (record.generation === undefined || record.generation === schedule.generation);
  const actedThisPeriod = sameSchedule && actedAt >= schedule.periodStart;
  if (actedThisPeriod && record !== undefined && record.action !== "hold") {
    if (stopSet) {
      return {
        action: "none",
        desired: "Stopped",
        reason: record.reason,
        message: `stopped (${record.reason}) since ${record.at}`,
        ...recheck(nextAt),
      };
    }
    return runningDecision(input, schedule, make, record.reason);
  }

  // 6. a fresh service, created this period while this schedule governed, with no record: a
  //    person's start, left up until the next transition (if there is none, it is adopted).
  if (
    record === undefined &&
    !stopSet &&
    nextAt !== undefined &&
    service.createdAt > Math.max(schedule.periodStart, schedule.createdAt) &&
    schedule.now.state === "Stopped"
  ) {
    return {
      action: "none",
      desired: "Running",
      reason: "NewService",
      message: "created after the last transition; left up until the next one",
      ...recheck(nextAt),
    };
  }

  const sched = schedule.now;
  if (sched.state === "Stopped") {
    if (stopSet) return { action: "none", desired: "Stopped", reason: sched.reason, message: scheduleMessage(sched), ...recheck(nextAt) };
    return {
      action: "stop",
      desired: "Stopped",
      reason: sched.reason,
      message: scheduleMessage(sched),
      record: make("stop", sched.reason, optionalTransition(schedule)),
      ...recheck(nextAt),
    };
  }
  if (stopSet) {
    return {
      action: "start",
      desired: "Running",
      reason: sched.reason,
      message: scheduleMessage(sched),
      record: make("start", sched.reason, optionalTransition(schedule)),
      ...recheck(nextAt),
    };
  }
  return runningDecision(input, schedule, make, sched.reason);
}

function runningDecision(
  input: DecideInput,
  schedule: ScheduleMoment,
  make: (a: "stop" | "start" | "hold", r: string, e?: Partial<ReclaimerState>) => ReclaimerState,
  reason: string,
): Partial2 {
  const idle = idleDecision(input, schedule, make);
  if (idle) return idle;
  const eligibleAt = idleEligibleAt(input, schedule);
  const next = schedule.next?.at;
  const recheckAt = [eligibleAt, next].filter((t): t is number => t !== undefined && t > input.now).sort((a, b) => a - b)[0];
  return {
    action: "none",
    desired: "Running",
    reason,
    message: scheduleMessage(schedule.now),
    ...(recheckAt === undefined ? {} : { recheckAt }),
  };
}

/** The idle stop, if its conditions hold now. */
function idleDecision(
  input: DecideInput,
  schedule: ScheduleMoment,
  make: (a: "stop" | "start" | "hold", r: string, e?: Partial<ReclaimerState>) => ReclaimerState,
): Partial2 | undefined {
  const policy = schedule.idle;
  if (!policy) return undefined;
  const after = parseDuration(policy.after);
  const ready = input.service.ready;
  if (ready?.status !== "True" || input.now - ready.since < after) return undefined;
  const traffic = input.traffic;
  if (!traffic) return undefined;
  if (traffic.kind === "unknown") {
    if (policy.whenMetricsUnavailable !== "Stop") return undefined;
    return {
      action: "stop",
      desired: "Stopped",
      reason: "MetricsUnavailable",
      message: `request rate unknown (${traffic.why}) and whenMetricsUnavailable is Stop`,
      record: make("stop", "MetricsUnavailable"),
    };
  }
  if (traffic.rps > policy.threshold) return undefined;
  return {
    action: "stop",
    desired: "Stopped",
    reason: "Idle",
    message: `served ${formatRate(traffic.rps)} req/s over the last ${policy.after} (threshold ${policy.threshold})`,
    record: make("stop", "Idle"),
  };
}

function idleEligibleAt(input: DecideInput, schedule: ScheduleMoment): number | undefined {
  const policy = schedule.idle;
  const ready = input.service.ready;
  if (!policy || !ready || ready.status !== "True") return undefined;
  return ready.since + parseDuration(policy.after);
}

function actedInstant(record: ReclaimerState): number {
  return parseRfc3339(record.transition ?? record.at) ?? Number.NEGATIVE_INFINITY;
}

function optionalTransition(schedule: ScheduleMoment): Partial<ReclaimerState> {
  return Number.isFinite(schedule.periodStart) ? { transition: new Date(schedule.periodStart).toISOString() } : {};
}

function recheck(at: number | undefined): { recheckAt?: number } {
  return at === undefined ? {} : { recheckAt: at };
}

function scheduleMessage(s: StateAt): string {
  const why =
    s.reason === "Exception"
      ? `exception${s.detail ? ` "${s.detail}"` : ""}`
      : s.reason === "Warmup"
        ? "warm-up before an uptime window"
        : s.state === "Running"
          ? "inside an uptime window"
          : "outside all uptime windows";
  return `${s.state}: ${why}`;
}

function formatRate(rps: number): string {
  return rps === 0 ? "0" : rps.toPrecision(3);
}

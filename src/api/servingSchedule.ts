// The ServingSchedule API, reclaimer.dev/v1alpha1. This zod schema is the single source of truth:
// the CRD in deploy/crds/ is generated from it (scripts/generate-crd.ts) and the docs follow it.
// Rules the OpenAPI schema alone cannot express travel with the schema as CEL
// (`x-kubernetes-validations` in .meta()), so the apiserver rejects what `validate` rejects.
import { z } from "zod";
import { DateTime, IANAZone } from "luxon";
import {
  closeMatches,
  type DurationBounds,
  compileCron,
  cronDayProfile,
  cronProblem,
  formatDuration,
  HOLIDAY_TYPES,
  holidayCountries,
  holidayRegions,
  isKnownCountry,
  isKnownRegion,
  parseDuration,
  sameCronInstants,
  type ScheduleSpec,
} from "../schedule/index.ts";

export const GROUP = "reclaimer.dev";
export const VERSION = "v1alpha1";
export const KIND = "ServingSchedule";
export const PLURAL = "servingschedules";
export const API_VERSION = `${GROUP}/${VERSION}`;
/** The platform team's cluster-wide variant: the same spec, across the namespaces it selects by label. */
export const CLUSTER_KIND = "ClusterServingSchedule";
export const CLUSTER_PLURAL = "clusterservingschedules";

const DAY = "(?:[Mm][Oo][Nn]|[Tt][Uu][Ee]|[Ww][Ee][Dd]|[Tt][Hh][Uu]|[Ff][Rr][Ii]|[Ss][Aa][Tt]|[Ss][Uu][Nn])";
const DAY_TERM = `${DAY}(?:-${DAY})?`;
export const DAYS_PATTERN = `^(?:\\*|${DAY_TERM}(?:,${DAY_TERM})*)$`;
export const FROM_TIME_PATTERN = "^(?:[01][0-9]|2[0-3]):[0-5][0-9]$";
export const TO_TIME_PATTERN = "^(?:(?:[01][0-9]|2[0-3]):[0-5][0-9]|24:00)$";
export const DURATION_PATTERN = "^(?:[0-9]+h)?(?:[0-9]+m)?(?:[0-9]+s)?$";
/** A local date or date and time, with a year ("2026-12-24") or without one, yearly ("--12-24", ISO 8601). */
export const LOCAL_DATE_TIME_PATTERN = "^(?:[0-9]{4}|-)-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])(?:T(?:[01][0-9]|2[0-3]):[0-5][0-9])?$";
export const COUNTRY_PATTERN = "^[A-Z]{2}$";
export const REGION_PATTERN = "^[A-Za-z0-9]{1,16}$";
export const CRON_PATTERN = "^\\S+(?:\\s+\\S+){4}$";

// Bounds. They keep objects reasonable and let the apiserver estimate the cost of every CEL rule
// (rules over unbounded strings and lists are rejected when the CRD is created).
export const MAX_UPTIME_ENTRIES = 64;
export const MAX_EXCEPTIONS = 512;
export const MAX_SELECTOR_TERMS = 32;
export const MAX_SELECTOR_VALUES = 64;
/** Several countries for a team spread over them; each calendar is worked out per year, so they are few. */
export const MAX_HOLIDAY_CALENDARS = 16;
/** A namespace selector names a few environment or team labels; more is a sign of listing namespaces one by one. */
export const MAX_NAMESPACE_LABELS = 32;
/** A label key: an optional DNS-subdomain prefix (253), "/" and a name (63), as Kubernetes bounds them. */
export const LABEL_KEY_LENGTH = { min: 1, max: 317 } as const;
export const MAX_LABEL_VALUE_LENGTH = 63;

// Bounds that JSON Schema keywords cannot carry travel as metadata on the zod schema, under these keys:
// the zod check below and the CRD's CEL rule (src/api/crd.ts) are both made from that one object.
/** On a duration string: the inclusive range it must lie in, as DurationBounds (milliseconds). */
export const DURATION_BOUNDS_META = "x-reclaimer-duration-bounds";
/** On a map (z.record): the inclusive range of the length of its keys, { min, max }. */
export const KEY_LENGTH_META = "x-reclaimer-key-length";

/** Go-style duration: "15m", "1h30m", "90s". */
export const Duration = z
  .string()
  .min(1, { message: 'must be a duration such as "90s", "15m" or "1h30m", not empty', abort: true })
  .max(32)
  .regex(new RegExp(DURATION_PATTERN), { message: 'must be a duration such as "90s", "15m" or "1h30m"', abort: true })
  .meta({ description: 'A duration: hours, minutes and seconds, e.g. "90s", "15m", "1h30m".' });

export const LabelSelectorRequirement = z
  .strictObject({
    key: z.string().min(LABEL_KEY_LENGTH.min).max(LABEL_KEY_LENGTH.max).meta({ description: "The label key." }),
    operator: z.enum(["In", "NotIn", "Exists", "DoesNotExist"]).meta({ description: "In, NotIn, Exists or DoesNotExist." }),
    values: z
      .array(z.string().max(MAX_LABEL_VALUE_LENGTH))
      .max(MAX_SELECTOR_VALUES)
      .optional()
      .meta({ description: "Label values: non-empty for In and NotIn, empty or absent for Exists and DoesNotExist." }),
  })
  .refine((r) => (r.operator === "In" || r.operator === "NotIn") === (r.values?.length ?? 0) > 0, {
    message: "values must be non-empty for In and NotIn, and empty for Exists and DoesNotExist",
    path: ["values"],
  })
  .meta({
    description: "A label selector requirement, as in Kubernetes' LabelSelector.",
    "x-kubernetes-validations": [
      {
        rule: "(self.operator == 'In' || self.operator == 'NotIn') == (has(self.values) && size(self.values) > 0)",
        message: "values must be non-empty for In and NotIn, and empty for Exists and DoesNotExist",
        fieldPath: ".values",
      },
    ],
  });

export const LabelSelector = z
  .strictObject({
    matchLabels: z
      .record(z.string(), z.string().max(MAX_LABEL_VALUE_LENGTH))
      .optional()
      .meta({ description: "Labels a service (InferenceService or LLMInferenceService) must all carry, key: value." }),
    matchExpressions: z
      .array(LabelSelectorRequirement)
      .max(MAX_SELECTOR_TERMS)
      .optional()
      .meta({ description: "Requirements a service's labels must all meet." }),
  })
  .meta({ description: "Selects services in the schedule's namespace by label, of the kinds listed in kinds. {} selects all." });

// Its own schema rather than LabelSelector's: matchLabels is bounded here (a cluster-wide object is
// read for every namespace), and the descriptions speak of namespaces.
export const NamespaceSelector = z
  .strictObject(
    {
      matchLabels: z
        .record(z.string().min(LABEL_KEY_LENGTH.min).max(LABEL_KEY_LENGTH.max), z.string().max(MAX_LABEL_VALUE_LENGTH))
        .refine((m) => Object.keys(m).length <= MAX_NAMESPACE_LABELS, { message: `must have at most ${MAX_NAMESPACE_LABELS} labels` })
        .optional()
        .meta({
          description: "Labels a Namespace must all carry, key: value.",
          maxProperties: MAX_NAMESPACE_LABELS,
          [KEY_LENGTH_META]: LABEL_KEY_LENGTH,
        }),
      matchExpressions: z
        .array(LabelSelectorRequirement)
        .max(MAX_SELECTOR_TERMS)
        .optional()
        .meta({ description: "Requirements a Namespace's labels must all meet." }),
    },
    {
      // the one place where "all" must be written out: a default here would reach kube-system too
      error: (iss) => (iss.input === undefined ? "is required: the namespaces by label, or {} for every namespace" : undefined),
    },
  )
  .meta({
    description:
      "Selects namespaces by their labels. Required: {} selects every namespace, kube-system included, so say so explicitly if that is meant.",
  });

export const UptimeWindow = z
  .strictObject({
    days: z
      .string()
      .max(64)
      .regex(new RegExp(DAYS_PATTERN), {
        message: 'must be "*" or days Mon..Sun as a list and/or ranges, e.g. "Mon-Fri" or "Fri-Mon,Wed"',
        abort: true,
      })
      .meta({ description: 'Days on which the window OPENS: "*", "Mon-Fri", "Sat,Sun", wrapping ranges such as "Fri-Mon".' }),
    from: z
      .string()
      .max(5)
      .regex(new RegExp(FROM_TIME_PATTERN), { message: 'must be a local time "HH:MM" from 00:00 to 23:59', abort: true })
      .meta({ description: 'Local time the window opens, "HH:MM".' }),
    to: z
      .string()
      .max(5)
      .regex(new RegExp(TO_TIME_PATTERN), { message: 'must be a local time "HH:MM" from 00:00 to 24:00', abort: true })
      .meta({ description: 'Local time the window closes, "HH:MM"; earlier than from means the next day; "24:00" is the end of the day.' }),
  })
  .refine((w) => w.from !== w.to, { message: "to must differ from from (an empty or all-day window is ambiguous)", path: ["to"] })
  .meta({
    description: "A weekly window of local time.",
    "x-kubernetes-validations": [{ rule: "self.from != self.to", message: "to must differ from from", fieldPath: ".to" }],
  });

const CronExpression = z
  .string()
  .max(128)
  .regex(new RegExp(CRON_PATTERN), {
    message: "must be a cron expression with 5 fields (minute hour day-of-month month day-of-week)",
    abort: true,
  })
  .superRefine((expr, ctx) => {
    const problem = cronProblem(expr) ?? neverFires(expr);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  });

/** Why a syntactically valid expression matches no instant at all ("0 0 30 2 *"), or undefined. Zone-independent. */
function neverFires(expr: string): string | undefined {
  if (cronDayProfile(compileCron(expr)).fires) return undefined;
  const [, , dom = "", month = "", dow = ""] = expr.trim().split(/\s+/);
  if ((dow === "*" || dow === "?") && /^[\d,\-/]+$/.test(dom)) return `day-of-month "${dom}" never occurs in month "${month}"`;
  return "never fires (no date matches its day-of-month, month and day-of-week fields)";
}

const CRON_FORMS =
  'a 5-field cron expression in timeZone: lists, ranges, steps, names; "L" and "nW" in day-of-month, "nL" and "n#k" in day-of-week, "?" for "*"';

/** Both expressions valid and firing at the same instants, however written ("1-5" and "MON-FRI"). */
function sameInstants(start: string, stop: string): boolean {
  if (cronProblem(start) || cronProblem(stop) || neverFires(start) || neverFires(stop)) return false;
  return sameCronInstants(compileCron(start), compileCron(stop));
}

export const UptimeCron = z
  .strictObject({
    cron: z
      .strictObject({
        start: CronExpression.meta({ description: `When the service starts running, ${CRON_FORMS}.` }),
        stop: CronExpression.meta({ description: `When the service stops, ${CRON_FORMS}.` }),
      })
      .superRefine((c, ctx) => {
        if (c.start.trim().split(/\s+/).join(" ") === c.stop.trim().split(/\s+/).join(" ")) {
          ctx.addIssue({ code: "custom", message: "stop must differ from start (the window would be empty)", path: ["stop"] });
        } else if (sameInstants(c.start, c.stop)) {
          ctx.addIssue({
            code: "custom",
            message: "stop fires at exactly the same instants as start, only written differently (the window would be empty)",
            path: ["stop"],
          });
        }
      })
      .meta({
        description: "Running from each start instant to the next stop instant.",
        "x-kubernetes-validations": [{ rule: "self.start != self.stop", message: "stop must differ from start", fieldPath: ".stop" }],
      }),
  })
  .meta({ description: "An uptime window given as a pair of cron expressions." });

// In the CRD the two forms become one object with all properties (a structural schema has no
// anyOf of alternatives); these rules say that exactly one form is used and the window form is whole.
// Each member's own rules are carried over by the generator, guarded by that member's required fields.
export const Uptime = z.union([UptimeWindow, UptimeCron]).meta({
  description: 'One uptime window: either "days", "from" and "to", or "cron".',
  "x-kubernetes-validations": [
    {
      rule: "has(self.cron) != (has(self.days) || has(self.from) || has(self.to))",
      message: "an uptime entry is either days/from/to or cron, exactly one of the two",
    },
    {
      rule: "has(self.cron) || (has(self.days) && has(self.from) && has(self.to))",
      message: "days, from and to must be given together",
    },
  ],
});

export const ExceptionState = z.enum(["Running", "Stopped"]);

const LOCAL_DATE_TIME_MESSAGE =
  'must be a local date "YYYY-MM-DD", date and time "YYYY-MM-DDTHH:MM", or a yearly date "--MM-DD" or "--MM-DDTHH:MM"';

const LocalDateTime = z
  .string()
  .max(16)
  .regex(new RegExp(LOCAL_DATE_TIME_PATTERN), { message: LOCAL_DATE_TIME_MESSAGE, abort: true })
  .refine(isCalendarDate, "is not a date in the calendar");

const isYearly = (s: string) => s.startsWith("--");

export const ScheduleException = z
  .strictObject({
    from: LocalDateTime.meta({
      description:
        'Start (inclusive): local "YYYY-MM-DD" (midnight) or "YYYY-MM-DDTHH:MM"; or every year, "--MM-DD" or "--MM-DDTHH:MM" ("--02-29" is March 1 in other years).',
    }),
    to: LocalDateTime.meta({
      description: "End (exclusive), the same form as from; a yearly to not after from ends in the next year (--12-31 to --01-02).",
    }),
    state: ExceptionState.meta({ description: "State inside the exception; beats uptime, warmup and holidays." }),
    reason: z.string().max(256).optional().meta({ description: "Why, shown in plan, status and Events." }),
  })
  .superRefine((e, ctx) => {
    if (isYearly(e.from) !== isYearly(e.to)) {
      ctx.addIssue({ code: "custom", message: "from and to must both have a year, or both be yearly (--MM-DD)", path: ["to"] });
    } else if (isYearly(e.from) ? normalizeLocal(e.from) === normalizeLocal(e.to) : normalizeLocal(e.from) >= normalizeLocal(e.to)) {
      ctx.addIssue({ code: "custom", message: isYearly(e.from) ? "to must differ from from" : "from must be before to", path: ["to"] });
    }
  })
  .meta({
    description: "An absolute override, once or every year; the first matching exception in list order wins, before holidays.",
    "x-kubernetes-validations": [
      {
        rule: "self.from.startsWith('--') == self.to.startsWith('--')",
        message: "from and to must both have a year, or both be yearly (--MM-DD)",
        fieldPath: ".to",
      },
      {
        rule: "self.from.startsWith('--') || (size(self.from) == 10 ? self.from + 'T00:00' : self.from) < (size(self.to) == 10 ? self.to + 'T00:00' : self.to)",
        message: "from must be before to",
        fieldPath: ".to",
      },
      {
        rule: "!self.from.startsWith('--') || (size(self.from) == 7 ? self.from + 'T00:00' : self.from) != (size(self.to) == 7 ? self.to + 'T00:00' : self.to)",
        message: "to must differ from from",
        fieldPath: ".to",
      },
    ],
  });

/** "YYYY-MM-DD" and "YYYY-MM-DDTHH:MM" (or their yearly forms) compare correctly as strings once both carry a time. */
export function normalizeLocal(s: string): string {
  return s.length === 10 || s.length === 7 ? `${s}T00:00` : s;
}

/**
 * "2027-02-29" has the shape of a date but is none; a yearly "--02-29" is a date (in leap years), but
 * "--02-30" never is. Only called on strings matching LOCAL_DATE_TIME_PATTERN.
 */
function isCalendarDate(s: string): boolean {
  const [y, m, d] = isYearly(s) ? [2000, Number(s.slice(2, 4)), Number(s.slice(5, 7))] : s.slice(0, 10).split("-").map(Number);
  return DateTime.fromObject({ year: y, month: m, day: d }, { zone: "UTC" }).isValid;
}

export const HolidayCalendar = z
  .strictObject({
    country: z
      .string()
      .max(2, { abort: true })
      .regex(new RegExp(COUNTRY_PATTERN), { message: 'must be a two-letter country code in capitals (ISO 3166-1), e.g. "DE"', abort: true })
      .superRefine((country, ctx) => {
        if (isKnownCountry(country)) return;
        const close = closeMatches(country, holidayCountries());
        ctx.addIssue({
          code: "custom",
          message: `unknown country "${country}" (no holiday calendar)${close.length > 0 ? `; close matches: ${describeCodes(close, holidayCountries())}` : ""}`,
        });
      })
      .meta({ description: 'Country, ISO 3166-1 alpha-2, e.g. "DE", "US", "IN".' }),
    region: z
      .string()
      .max(16, { abort: true })
      .regex(new RegExp(REGION_PATTERN), { message: 'must be a region code such as "BY" (letters and digits, at most 16)', abort: true })
      .optional()
      .meta({ description: 'A region of the country with holidays of its own, e.g. "BY" (Bavaria) in DE, "NY" in US.' }),
    types: z
      .array(z.enum(HOLIDAY_TYPES))
      .min(1)
      .max(HOLIDAY_TYPES.length)
      .refine((t) => new Set(t).size === t.length, { message: "must not repeat a type" })
      .default(["public"])
      .meta({
        description: "Which holidays: public (default), bank, school, optional, observance, as date-holidays classifies them.",
        "x-kubernetes-list-type": "set",
      }),
    state: ExceptionState.default("Stopped").meta({ description: "State on these holidays (default Stopped)." }),
  })
  .superRefine((h, ctx) => {
    if (h.region === undefined || !isKnownCountry(h.country) || isKnownRegion(h.country, h.region)) return;
    const regions = holidayRegions(h.country);
    const close = closeMatches(h.region, regions);
    const codes = Object.keys(regions);
    const hint =
      codes.length === 0
        ? `; ${h.country} has no regions in the calendar, leave region out`
        : close.length > 0
          ? `; close matches: ${describeCodes(close, regions)}`
          : codes.length <= 40
            ? `; regions of ${h.country}: ${codes.join(", ")}`
            : "";
    ctx.addIssue({ code: "custom", message: `unknown region "${h.region}" of ${h.country}${hint}`, path: ["region"] });
  })
  .meta({
    description:
      "The holidays of a country or region, every year, each from local midnight to the next local midnight in timeZone; names are English where the calendar has one.",
  });

function describeCodes(codes: readonly string[], names: Readonly<Record<string, string>>): string {
  return codes.map((c) => `${c} (${names[c]})`).join(", ");
}

export const MetricPreset = z.enum(["kserve", "vllm", "knative", "istio", "custom"]);

export const CustomMetric = z
  .strictObject({
    query: z.string().min(1).meta({
      description:
        "PromQL giving requests per second per series; $window is replaced by the idle window, e.g. rate(my_requests_total[$window]).",
    }),
    namespaceLabel: z.string().min(1).default("namespace").meta({ description: "Series label holding the namespace." }),
    serviceLabel: z.string().min(1).meta({ description: "Series label identifying the InferenceService." }),
    serviceLabelFormat: z
      .string()
      .min(1)
      .default("{name}")
      .meta({ description: 'How the label value is formed from the InferenceService name, e.g. "{name}-predictor".' }),
  })
  .meta({ description: "A custom request-rate query and how its series map to InferenceServices." });

/** Bounds of idle.after and warmup, checked where the schedule is validated (CLI and daemon alike) and by the CRD. */
export const IDLE_AFTER_MIN_MS = 10_000;
export const IDLE_AFTER_MAX_MS = 168 * 3_600_000;
export const WARMUP_MAX_MS = 24 * 3_600_000;
/** NaN (too many digits to count) is out of bounds too. */
const withinBounds = (ms: number, min: number, max: number) => Number.isFinite(ms) && ms >= min && ms <= max;

/** What a duration outside its bounds is told, by `validate` and by the apiserver alike. */
export function durationBoundsMessage(b: DurationBounds): string {
  return b.min > 0 ? `must be between ${formatDuration(b.min)} and ${formatDuration(b.max)}` : `must be at most ${formatDuration(b.max)}`;
}

/** "(10s to 168h)", for descriptions. */
const range = (b: DurationBounds) =>
  b.min > 0 ? `(${formatDuration(b.min)} to ${formatDuration(b.max)})` : `(at most ${formatDuration(b.max)})`;

/** A Duration within bounds: checked here, and carried to the CRD as metadata (a CEL rule, src/api/crd.ts). */
function boundedDuration(b: DurationBounds) {
  return Duration.refine((d) => withinBounds(parseDuration(d), b.min, b.max), { message: durationBoundsMessage(b) }).meta({
    [DURATION_BOUNDS_META]: b,
  });
}

export const IDLE_AFTER_BOUNDS: DurationBounds = { min: IDLE_AFTER_MIN_MS, max: IDLE_AFTER_MAX_MS };
export const WARMUP_BOUNDS: DurationBounds = { min: 0, max: WARMUP_MAX_MS };

export const IdlePolicy = z
  .strictObject({
    // Shorter than a few scrape intervals reads as no data; longer than a week is not "idle" any more, and
    // the range query over it gets expensive.
    after: boundedDuration(IDLE_AFTER_BOUNDS).meta({
      description: `Stop a Running service that served no more than threshold req/s for this long ${range(IDLE_AFTER_BOUNDS)}.`,
    }),
    threshold: z.number().min(0).default(0).meta({ description: "Requests per second at or below which a service counts as idle." }),
    metric: MetricPreset.default("kserve").meta({ description: "Where request rates come from: a preset, or custom." }),
    custom: CustomMetric.optional(),
    whenMetricsUnavailable: z
      .enum(["KeepRunning", "Stop"])
      .default("KeepRunning")
      .meta({ description: "What unknown traffic (query error, Prometheus down, absent series) means. Unknown is never zero." }),
  })
  .refine((p) => p.metric !== "custom" || p.custom !== undefined, {
    message: "metric custom needs custom.query and custom.serviceLabel",
    path: ["custom"],
  })
  .meta({
    description: "Stop services that serve no traffic (used by the daemon, not by plan).",
    "x-kubernetes-validations": [
      {
        rule: "!has(self.metric) || self.metric != 'custom' || has(self.custom)",
        message: "metric custom needs custom.query and custom.serviceLabel",
        fieldPath: ".custom",
      },
    ],
  });

/** Bounds of wake.timeout and wake.maxHeldRequests, checked where the schedule is validated (CLI and daemon alike). */
export const WAKE_TIMEOUT_MIN_MS = 10_000;
export const WAKE_TIMEOUT_MAX_MS = 30 * 60_000;
export const WAKE_MAX_HELD_REQUESTS = 10_000;
export const WAKE_TIMEOUT_BOUNDS: DurationBounds = { min: WAKE_TIMEOUT_MIN_MS, max: WAKE_TIMEOUT_MAX_MS };

export const WakePolicy = z
  .strictObject({
    onRequest: z.boolean().default(false).meta({
      description:
        "Start a service the daemon stopped (idle or schedule) when a request for it arrives; the request is held until the service is Ready. Needs idle, which stops it again. A person's stop is never woken.",
    }),
    timeout: boundedDuration(WAKE_TIMEOUT_BOUNDS)
      .default("5m")
      .meta({
        description: `How long one request is held while the service starts before it is answered 503 with Retry-After ${range(WAKE_TIMEOUT_BOUNDS)}.`,
      }),
    maxHeldRequests: z
      .number()
      .int()
      .min(1)
      .max(WAKE_MAX_HELD_REQUESTS)
      .default(100)
      .meta({
        description: `Requests held at once for one service while it starts; more are answered 503 at once (1 to ${WAKE_MAX_HELD_REQUESTS}).`,
      }),
  })
  .meta({ description: "Wake on request: a stopped service starts when a client calls it, and the call is answered once it is Ready." });

// A woken service must stop again by itself: without an idle policy it would stay up until the next
// schedule transition (or for ever, with no uptime), so one stray request would undo the reclaim.
const WAKE_NEEDS_IDLE = "wake.onRequest needs an idle policy: a woken service stops again after idle.after of idleness";
const wakeNeedsIdle = (spec: { wake?: { onRequest: boolean } | undefined; idle?: unknown }, ctx: z.RefinementCtx) => {
  if (spec.wake?.onRequest === true && spec.idle === undefined)
    ctx.addIssue({ code: "custom", message: WAKE_NEEDS_IDLE, path: ["wake", "onRequest"] });
};
const WAKE_NEEDS_IDLE_RULE = {
  rule: "!has(self.wake) || !has(self.wake.onRequest) || !self.wake.onRequest || has(self.idle)",
  message: WAKE_NEEDS_IDLE,
  fieldPath: ".wake.onRequest",
};

/** The kinds of KServe service a schedule can govern; the Service type of src/sources/kube/service.ts names the same two. */
export const GOVERNED_KINDS = ["InferenceService", "LLMInferenceService"] as const;
export const GovernedKind = z.enum(GOVERNED_KINDS);
export type GovernedKind = z.infer<typeof GovernedKind>;

// Both by default: a team that adds an LLMInferenceService to a scheduled namespace expects the
// namespace's hours to hold for it too; `kinds` narrows a schedule to one kind when they differ.
const Kinds = z
  .array(GovernedKind)
  .min(1)
  .max(GOVERNED_KINDS.length)
  .default([...GOVERNED_KINDS])
  .refine((ks) => new Set(ks).size === ks.length, { message: "must not name a kind twice" })
  .meta({
    description:
      "The kinds of service the schedule governs, of those its selector selects: InferenceService, LLMInferenceService, or both (the default). A service of a kind not listed is not selected, so another schedule may govern it.",
    "x-kubernetes-list-type": "set",
  });

export const ServingScheduleSpec = z
  .strictObject({
    selector: LabelSelector.default({}),
    kinds: Kinds,
    timeZone: z
      .string()
      .max(64)
      .default("UTC")
      .refine((tz) => IANAZone.isValidZone(tz), { message: "must be an IANA time zone name such as Europe/Berlin" })
      .meta({ description: "IANA time zone of all local times in this schedule." }),
    uptime: z.array(Uptime).max(MAX_UPTIME_ENTRIES).optional().meta({
      description: "Services run inside any window and are stopped outside all of them. Absent: always Running (idle-only policy).",
    }),
    exceptions: z
      .array(ScheduleException)
      .max(MAX_EXCEPTIONS)
      .optional()
      .meta({ description: "Absolute overrides, dated or yearly; first match in list order wins, and any beats holidays." }),
    holidays: z.array(HolidayCalendar).max(MAX_HOLIDAY_CALENDARS).optional().meta({
      description: "Public-holiday calendars: their holidays act as exceptions after those in exceptions, the first calendar first.",
    }),
    warmup: boundedDuration(WARMUP_BOUNDS)
      .optional()
      .meta({ description: `Each uptime window starts this much earlier, so the model is Ready on time ${range(WARMUP_BOUNDS)}.` }),
    idle: IdlePolicy.optional(),
    wake: WakePolicy.optional(),
    suspend: z.boolean().default(false).meta({ description: "The daemon changes nothing while true." }),
    dryRun: z.boolean().default(false).meta({ description: "The daemon decides and reports but never patches." }),
  })
  .superRefine(wakeNeedsIdle)
  .meta({
    description: "When the selected services (InferenceServices and LLMInferenceServices) should run.",
    "x-kubernetes-validations": [WAKE_NEEDS_IDLE_RULE],
  });

export const ClusterServingScheduleSpec = ServingScheduleSpec.safeExtend({
  namespaceSelector: NamespaceSelector,
  selector: LabelSelector.default({}).meta({
    description: "Selects services by label, of the kinds listed in kinds, in every namespace namespaceSelector selects. {} selects all.",
  }),
}).meta({
  description:
    "When the selected services of the selected namespaces should run; a ServingSchedule of a namespace that selects a service overrides this for that service.",
  "x-kubernetes-validations": [WAKE_NEEDS_IDLE_RULE],
});

export const Condition = z.object({
  type: z.string(),
  status: z.enum(["True", "False", "Unknown"]),
  reason: z.string(),
  message: z.string(),
  lastTransitionTime: z.string(),
  observedGeneration: z.number().int().optional(),
});

export const ServiceState = z.enum(["Running", "Stopped"]);

export const ServiceStatus = z.object({
  name: z.string(),
  kind: z.enum(["LLMInferenceService"]).optional().meta({
    description:
      "LLMInferenceService for one; absent for an InferenceService (as in entries older daemons wrote), so one of each kind may share a name.",
  }),
  state: ServiceState,
  reason: z.string(),
  since: z.string().optional(),
  nextTransition: z.string().optional(),
  gpus: z.number().int().min(0),
  confirmed: z.boolean(),
  message: z.string().optional(),
  gpusReleased: z.boolean().optional().meta({
    description:
      "Stopped services only: true once the last predictor pod is gone (deleted, or every one terminated), so its GPUs are free; false while pods are still terminating. GPU-hours are counted from then.",
  }),
  gpusReleasedAt: z
    .string()
    .optional()
    .meta({ description: "When the last predictor pod of the stopped service was gone (RFC 3339); kept while it stays stopped." }),
});

export const ServingScheduleStatus = z
  .object({
    observedGeneration: z.number().int().optional(),
    conditions: z
      .array(Condition)
      .optional()
      .meta({
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["type"],
        description: "Ready and friends, as metav1.Condition.",
      }),
    services: z.array(ServiceStatus).optional(),
    running: z.number().int().optional(),
    stopped: z.number().int().optional(),
    gpusReclaimed: z
      .number()
      .int()
      .optional()
      .meta({ description: "GPUs not in use right now because this schedule stopped their services." }),
    gpuHoursReclaimed: z.number().optional(),
    overridden: z.number().int().optional().meta({
      description: "ClusterServingSchedule only: services it selects that a ServingSchedule of their namespace governs instead.",
    }),
    nextTransition: z.string().optional(),
    nextState: ServiceState.optional(),
  })
  .meta({ description: "What the daemon observed and did." });

export const ServingSchedule = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal(KIND),
  metadata: z.object({
    name: z.string().min(1),
    namespace: z.string().optional(),
    generation: z.number().optional(),
    resourceVersion: z.string().optional(),
    uid: z.string().optional(),
    labels: z.record(z.string(), z.string()).optional(),
    annotations: z.record(z.string(), z.string()).optional(),
  }),
  spec: ServingScheduleSpec,
  status: ServingScheduleStatus.optional(),
});

export const ClusterServingSchedule = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal(CLUSTER_KIND),
  metadata: z.object({
    name: z.string().min(1),
    generation: z.number().optional(),
    resourceVersion: z.string().optional(),
    uid: z.string().optional(),
    labels: z.record(z.string(), z.string()).optional(),
    annotations: z.record(z.string(), z.string()).optional(),
  }),
  spec: ClusterServingScheduleSpec,
  status: ServingScheduleStatus.optional(),
});

export type Duration = z.infer<typeof Duration>;
export type LabelSelector = z.infer<typeof LabelSelector>;
export type UptimeWindow = z.infer<typeof UptimeWindow>;
export type UptimeCron = z.infer<typeof UptimeCron>;
export type Uptime = z.infer<typeof Uptime>;
export type ScheduleException = z.infer<typeof ScheduleException>;
export type HolidayCalendar = z.infer<typeof HolidayCalendar>;
export type IdlePolicy = z.infer<typeof IdlePolicy>;
export type WakePolicy = z.infer<typeof WakePolicy>;
export type MetricPreset = z.infer<typeof MetricPreset>;
export type ServingScheduleSpec = z.infer<typeof ServingScheduleSpec>;
export type ServingScheduleStatus = z.infer<typeof ServingScheduleStatus>;
export type ServiceStatus = z.infer<typeof ServiceStatus>;
export type Condition = z.infer<typeof Condition>;
export type ServingSchedule = z.infer<typeof ServingSchedule>;
export type NamespaceSelector = z.infer<typeof NamespaceSelector>;
export type ClusterServingScheduleSpec = z.infer<typeof ClusterServingScheduleSpec>;
export type ClusterServingSchedule = z.infer<typeof ClusterServingSchedule>;

export { isCronUptime } from "../schedule/index.ts";

// The engine reads its own shape of a spec (src/schedule/spec.ts) so that it depends on nothing above
// it; this type is where the compiler checks that every parsed spec fits that shape.
type Fits<T extends ScheduleSpec> = T;
export type EngineSpec = Fits<ServingScheduleSpec>;

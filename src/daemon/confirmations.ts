// After a stop or start the daemon waits for KServe to confirm it (Stopped=True, or Ready=True
// without Stopped). A deadline that passes unconfirmed is a Warning: the usual causes (ModelMesh,
// an old KServe, a model that cannot start) need a person, and the schedule's Ready says so.
import { isStopSet } from "../api/annotations.ts";
import type { ServiceFacts } from "../decide/decide.ts";
import type { Service } from "../sources/kube/service.ts";
import { type ReconcilerPorts, type ServiceRecord, serviceId, keyOf, serviceRef } from "./ports.ts";
import type { BatchTarget, TransitionEvents } from "./transitionEvents.ts";

export type ConfirmationTimeouts = { stopMs: number; startMs: number };

export class Confirmations {
  readonly #p: Pick<ReconcilerPorts, "clock" | "log" | "metrics" | "event" | "services" | "unschedulable">;
  readonly #timeouts: ConfirmationTimeouts;
  readonly #late: (record: ServiceRecord) => void;
  readonly #transitions: TransitionEvents;

  /** `late` runs after a deadline passed (the schedule's status must say so). */
  constructor(
    ports: Pick<ReconcilerPorts, "clock" | "log" | "metrics" | "event" | "services" | "unschedulable">,
    timeouts: ConfirmationTimeouts,
    late: (record: ServiceRecord) => void,
    transitions: TransitionEvents,
  ) {
    this.#p = ports;
    this.#timeouts = timeouts;
    this.#late = late;
    this.#transitions = transitions;
  }

  /**
   * A stop or start was applied at `since`: KServe has until the timeout to confirm it. A
   * confirmation of a schedule transition (`batch`) is reported with the others of that transition,
   * on the schedule; a missing one is always a Warning on the service.
   */
  expect(k: string, record: ServiceRecord, action: "stop" | "start", since: number, batch?: BatchTarget): void {
    record.awaiting?.cancel();
    record.notConfirmed = false;
    const timeout = action === "stop" ? this.#timeouts.stopMs : this.#timeouts.startMs;
    const deadline = since + timeout;
    const cancel = this.#p.clock.at(deadline, () => {
      if (record.awaiting?.deadline !== deadline) return;
      record.awaiting = undefined;
      record.notConfirmed = true;
      const what = action === "stop" ? "set Stopped=True" : "reported Ready=True";
      this.#p.log.warn("not confirmed", { service: k, action });
      this.#p.metrics.unconfirmed(action);
      const service = this.#p.services.get(k);
      if (service)
        this.#p.event(
          serviceRef(service),
          "Warning",
          "NotConfirmed",
          `KServe has not ${what} within ${Math.round(timeout / 1000)}s of the ${action} (ModelMesh mode, a KServe older than v0.15 (Knative) / v0.16 (Standard), or the model cannot start)`,
        );
      if (service && action === "start") this.#whyUnschedulable(service);
      this.#late(record);
    });
    record.awaiting = { action, deadline, cancel, since, batch };
  }

  /**
   * A start that is late most often waits for a GPU: the scheduler says so on the predictor pods
   * (PodScheduled=False, Unschedulable), and that message is what a person needs to see.
   */
  #whyUnschedulable(service: Service): void {
    const lookup = this.#p.unschedulable;
    if (!lookup) return;
    lookup(serviceId(service)).then(
      (why) => {
        if (why !== undefined)
          this.#p.event(
            serviceRef(service),
            "Warning",
            "Unschedulable",
            `the started service's predictor pods cannot be scheduled: ${why}`,
          );
      },
      (err: unknown) => this.#p.log.warn("could not read the predictor pods", { service: keyOf(service), err: String(err) }),
    );
  }

  /** What KServe reports now: a confirmation ends the wait (and a late one clears NotConfirmed). */
  observe(k: string, record: ServiceRecord, service: Service, facts: ServiceFacts, now: number): void {
    const stopSet = isStopSet(facts.annotations);
    const confirmedStop = stopSet && facts.stoppedByKServe;
    const confirmedStart = !stopSet && !facts.stoppedByKServe && facts.ready?.status === "True";
    const awaiting = record.awaiting;
    if (awaiting && ((awaiting.action === "stop" && confirmedStop) || (awaiting.action === "start" && confirmedStart))) {
      awaiting.cancel();
      record.awaiting = undefined;
      const stop = awaiting.action === "stop";
      this.#p.log.info(`${awaiting.action} confirmed by KServe`, { service: k, afterMs: now - awaiting.since });
      if (awaiting.batch)
        this.#transitions.add({ ...awaiting.batch, reason: stop ? "StopConfirmed" : "StartConfirmed", afterMs: now - awaiting.since });
      else
        this.#p.event(
          serviceRef(service),
          "Normal",
          stop ? "StopConfirmed" : "StartConfirmed",
          `KServe ${stop ? "set Stopped=True" : "reports Ready=True"} after ${((now - awaiting.since) / 1000).toFixed(1)}s`,
        );
    }
    if (record.notConfirmed && (confirmedStop || confirmedStart)) record.notConfirmed = false;
  }
}

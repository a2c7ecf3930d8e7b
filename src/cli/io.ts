// What a command may touch besides its arguments: output streams and the clock. main.ts passes the
// real ones; tests pass recorders and a fixed clock.
import type { FlagTable } from "../config/flags.ts";

export type CliIO = {
  out(text: string): void;
  err(text: string): void;
  /** Wall clock, read only by command shells (never by the engine). */
  now(): number;
};

export type Command = {
  name: string;
  summary: string;
  /** Synopsis and description for `help`; the flags are listed from `flags`. */
  usage: string;
  flags: FlagTable;
  /** Flags are also read from RECLAIMER_* variables (`run`): help names each one. */
  env?: boolean;
  run(argv: string[], io: CliIO): Promise<number> | number;
};

/** Exit codes of every command. */
export const EXIT_OK = 0;
export const EXIT_INVALID = 1;
export const EXIT_USAGE = 2;

/** A mistake in how the command was called (exit 2), as opposed to invalid input files (exit 1). */
export class UsageError extends Error {
  override name = "UsageError";
}

/**
 * Input within the rules but beyond what a command will compute or read (exit 2). The message says
 * the limit and how to narrow the input, so no usage hint follows it.
 */
export class LimitError extends UsageError {
  override name = "LimitError";
}

export const PROGRAM = "kserve-reclaimer";

#!/usr/bin/env node
// The kserve-reclaimer command line. Each subcommand lives in its own module and is listed in COMMANDS;
// dispatching, help and exit codes are in dispatch.ts.
import { planCommand } from "./plan.ts";
import { validateCommand } from "./validate.ts";
import { runCommand } from "./run.ts";
import { statusCommand } from "./status.ts";
import { wakeCommand } from "./wake.ts";
import { sleepCommand } from "./sleep.ts";
import { wakerCommand } from "./waker.ts";
import type { CliIO, Command } from "./io.ts";
import { completionCommand } from "./completion.ts";
import { dispatch, runCommands, usage as usageOf } from "./dispatch.ts";

export { commandHelp, version } from "./dispatch.ts";

/** Every command, in the order `help` lists them. */
export const COMMANDS: readonly Command[] = [
  validateCommand,
  planCommand,
  runCommand,
  statusCommand,
  wakeCommand,
  sleepCommand,
  wakerCommand,
  completionCommand(() => COMMANDS),
];

export function usage(commands: readonly Command[] = COMMANDS): string {
  return usageOf(commands);
}

/** Runs one command line; returns the exit status. Errors in how it was called exit 2. */
export function main(argv: readonly string[], io: CliIO, commands: readonly Command[] = COMMANDS): Promise<number> {
  return dispatch(argv, io, commands);
}

/** The process around main(): real streams, exit code, one line for a bug. The entry module calls it. */
export function runCli(argv: readonly string[] = process.argv.slice(2)): void {
  runCommands(argv, COMMANDS);
}

// import.meta.main: true when this module is the entry point (`node src/cli/main.ts`); the
// published bin is entry.ts, which checks the Node version first and then calls runCli
if (import.meta.main) runCli();

#!/usr/bin/env node
// The kserve-reclaimer command line. Each subcommand lives in its own module and is listed in COMMANDS;
// this file only dispatches, maps errors to exit codes, and never prints a stack trace for bad input.
import { planCommand } from "./plan.ts";
import { validateCommand } from "./validate.ts";
import { runCommand } from "./run.ts";
import { statusCommand } from "./status.ts";
import { wakeCommand } from "./wake.ts";
import { sleepCommand } from "./sleep.ts";
import { EXIT_USAGE, LimitError, PROGRAM, UsageError, type CliIO, type Command } from "./io.ts";
import { visible } from "./visible.ts";

/** The command table. The daemon adds run, status, wake and sleep here. */
export const COMMANDS: readonly Command[] = [validateCommand, planCommand, runCommand, statusCommand, wakeCommand, sleepCommand];

export function usage(commands: readonly Command[] = COMMANDS): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    `Usage: ${PROGRAM} <command> [options]`,
    "",
    "Commands:",
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    `Run '${PROGRAM} help <command>' for a command's options.`,
    "",
  ].join("\n");
}

/** Runs one command line; returns the exit status. Errors in how it was called exit 2. */
export async function main(argv: readonly string[], io: CliIO, commands: readonly Command[] = COMMANDS): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    io.err(usage(commands));
    return EXIT_USAGE;
  }
  if (name === "help" || name === "--help" || name === "-h") {
    const topic = rest[0] === undefined ? undefined : commands.find((c) => c.name === rest[0]);
    if (rest[0] !== undefined && !topic) {
      io.err(`${PROGRAM}: unknown command "${visible(rest[0])}"\n\n${usage(commands)}`);
      return EXIT_USAGE;
    }
    io.out(topic ? `Usage: ${PROGRAM} ${topic.usage}\n` : usage(commands));
    return 0;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    io.err(`${PROGRAM}: unknown command "${visible(name)}"\n\n${usage(commands)}`);
    return EXIT_USAGE;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    io.out(`Usage: ${PROGRAM} ${command.usage}\n`);
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (e) {
    if (e instanceof LimitError) {
      io.err(`${PROGRAM} ${command.name}: ${visible(e.message)}\n`);
      return EXIT_USAGE;
    }
    if (e instanceof UsageError || isParseArgsError(e)) {
      io.err(`${PROGRAM} ${command.name}: ${visible((e as Error).message)}\nRun '${PROGRAM} help ${command.name}' for usage.\n`);
      return EXIT_USAGE;
    }
    throw e;
  }
}

function isParseArgsError(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === "string" && code.startsWith("ERR_PARSE_ARGS_");
}

// import.meta.main: true when this module is the entry point (Node >= 22.18), also behind the npm bin symlink
if (import.meta.main) {
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
  });
  const io: CliIO = {
    out: (t) => {
      process.stdout.write(t);
    },
    err: (t) => {
      process.stderr.write(t);
    },
    now: () => Date.now(),
  };
  main(process.argv.slice(2), io).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      // a bug, not bad input: say so in one line; the stack only when asked for
      process.stderr.write(`${PROGRAM}: internal error: ${visible(e instanceof Error ? e.message : String(e))}\n`);
      if (process.env.KSERVE_RECLAIMER_DEBUG) process.stderr.write(`${e instanceof Error ? e.stack : ""}\n`);
      process.exitCode = 70;
    },
  );
}

// What every kserve-reclaimer command line goes through, whichever commands are loaded: dispatch,
// help, errors mapped to exit codes, and never a stack trace for bad input. main.ts passes every
// command; the waker's entry passes only its own, so its process does not load the others.
import { EXIT_USAGE, LimitError, PROGRAM, UsageError, type CliIO, type Command } from "./io.ts";
import { visible } from "../report/visible.ts";
import { readFileSync } from "node:fs";
import { closest, renderFlags } from "../config/flags.ts";

/** package.json's version: the same file in the source tree and next to dist/ in the package. */
export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version?: unknown };
  return String(pkg.version);
}

/** `help <command>`: synopsis, description, then each flag with its default (and RECLAIMER_* name for run). */
export function commandHelp(c: Command): string {
  return `Usage: ${PROGRAM} ${c.usage}\n\nFlags:\n${renderFlags(c.flags, { env: c.env ?? false, help: true })}\n`;
}

function unknownCommand(name: string, commands: readonly Command[]): string {
  const near = closest(name, [...commands.map((c) => c.name), "help"]);
  return `${PROGRAM}: unknown command "${visible(name)}"${near ? `: did you mean "${near}"?` : ""}\n\n${usage(commands)}`;
}

export function usage(commands: readonly Command[]): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    `Usage: ${PROGRAM} <command> [options]`,
    "",
    "Commands:",
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    `Run '${PROGRAM} help <command>' for a command's options; '${PROGRAM} --version' for the version.`,
    "",
  ].join("\n");
}

/** Runs one command line; returns the exit status. Errors in how it was called exit 2. */
export async function dispatch(argv: readonly string[], io: CliIO, commands: readonly Command[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    io.err(usage(commands));
    return EXIT_USAGE;
  }
  if (name === "--version" || name === "version") {
    io.out(`${PROGRAM} ${version()}\n`);
    return 0;
  }
  if (name === "help" || name === "--help" || name === "-h") {
    const topic = rest[0] === undefined ? undefined : commands.find((c) => c.name === rest[0]);
    if (rest[0] !== undefined && !topic) {
      io.err(unknownCommand(rest[0], commands));
      return EXIT_USAGE;
    }
    io.out(topic ? commandHelp(topic) : usage(commands));
    return 0;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    io.err(unknownCommand(name, commands));
    return EXIT_USAGE;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    io.out(commandHelp(command));
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (e) {
    if (e instanceof LimitError) {
      io.err(`${PROGRAM} ${command.name}: ${visible(e.message)}\n`);
      return EXIT_USAGE;
    }
    if (e instanceof UsageError) {
      io.err(`${PROGRAM} ${command.name}: ${visible(e.message)}\nRun '${PROGRAM} help ${command.name}' for usage.\n`);
      return EXIT_USAGE;
    }
    // parseArgs' own wording is for developers (quoting advice, "ambiguous"); flags.ts parses
    // leniently so this should not happen, and if it does the user still gets one plain line
    if (isParseArgsError(e)) {
      io.err(`${PROGRAM} ${command.name}: cannot read the arguments\nRun '${PROGRAM} help ${command.name}' for usage.\n`);
      return EXIT_USAGE;
    }
    throw e;
  }
}

function isParseArgsError(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === "string" && code.startsWith("ERR_PARSE_ARGS_");
}

/** The process around main(): real streams, exit code, one line for a bug. The entry module calls it. */
export function runCommands(argv: readonly string[], commands: readonly Command[]): void {
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
  dispatch(argv, io, commands).then(
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

// Process bookkeeping for the local control plane: every component runs in its
// own process group, is recorded by pid in a state file, and is stopped by pid.
import { spawn, type ChildProcess } from "node:child_process";
import { openSync, closeSync, readFileSync, writeFileSync, existsSync, readdirSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { createServer } from "node:net";

export type ComponentRecord = {
  name: string;
  pid: number;
  logPath: string;
  ports: number[];
};

export type ClusterState = {
  version: 1;
  dir: string;
  components: ComponentRecord[];
};

export class ComponentError extends Error {
  readonly component: string;
  constructor(component: string, message: string, options?: { cause?: unknown }) {
    super(`${component}: ${message}`, options);
    this.name = "ComponentError";
    this.component = component;
  }
}

export function readState(path: string): ClusterState {
  const parsed: unknown = JSON.parse(readFileSync(path, "utf8"));
  if (
    typeof parsed !== "object" ||
    parsed === null ||
    (parsed as { version?: unknown }).version !== 1 ||
    !Array.isArray((parsed as { components?: unknown }).components)
  ) {
    throw new Error(`${path} is not a cluster state file (version 1)`);
  }
  return parsed as ClusterState;
}

export function writeState(path: string, state: ClusterState): void {
  writeFileSync(path, `${JSON.stringify(state, null, 2)}\n`);
}

/** A free TCP port on 127.0.0.1 (bound and released; the window for a race is small). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      if (address === null || typeof address === "string") {
        server.close();
        reject(new Error("no port"));
        return;
      }
      server.close(() => resolve(address.port));
    });
  });
}

/** State letter from /proc/<pid>/stat, or undefined when the process does not exist. */
function procState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  } catch {
    return undefined;
  }
}

/** Live (non-zombie) members of a process group. */
export function processGroupMembers(pgid: number): number[] {
  const members: number[] = [];
  let entries: string[];
  try {
    entries = readdirProc();
  } catch {
    return members;
  }
  for (const entry of entries) {
    const pid = Number(entry);
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // fields[0] = state, fields[1] = ppid, fields[2] = pgrp
      if (Number(fields[2]) === pgid && fields[0] !== "Z") members.push(pid);
    } catch {
      // the process went away meanwhile
    }
  }
  return members;
}

function readdirProc(): string[] {
  return readdirSync("/proc").filter((e) => /^\d+$/.test(e));
}

export function isAlive(pid: number): boolean {
  const state = procState(pid);
  return state !== undefined && state !== "Z";
}

/** Stops a process group: SIGTERM, then SIGKILL after `graceMs`. Resolves when no live member is left. */
export async function stopProcessGroup(pgid: number, graceMs = 10_000): Promise<void> {
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pgid, sig);
    } catch {
      // group already gone
    }
  };
  if (processGroupMembers(pgid).length === 0) return;
  signal("SIGTERM");
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (processGroupMembers(pgid).length === 0) return;
    await sleep(100);
  }
  signal("SIGKILL");
  const killDeadline = Date.now() + 5_000;
  while (Date.now() < killDeadline) {
    if (processGroupMembers(pgid).length === 0) return;
    await sleep(100);
  }
  throw new Error(`process group ${pgid} survived SIGKILL: ${processGroupMembers(pgid).join(", ")}`);
}

export type Started = { child: ChildProcess; record: ComponentRecord; exited: () => string | undefined };

/** Starts a component in its own process group with stdout/stderr appended to `logPath`. */
export function startProcess(
  name: string,
  command: string,
  args: string[],
  opts: { logPath: string; env?: NodeJS.ProcessEnv; cwd?: string; ports?: number[] },
): Started {
  const fd = openSync(opts.logPath, "a");
  let child: ChildProcess;
  try {
    child = spawn(command, args, {
      detached: true,
      stdio: ["ignore", fd, fd],
      env: opts.env ?? process.env,
      cwd: opts.cwd,
    });
  } finally {
    closeSync(fd);
  }
  let exitInfo: string | undefined;
  let spawnError: string | undefined;
  child.on("error", (err) => {
    spawnError = err.message;
  });
  child.on("exit", (code, sig) => {
    exitInfo = sig !== null ? `killed by ${sig}` : `exited with code ${code}`;
  });
  child.unref();
  if (child.pid === undefined) {
    throw new ComponentError(name, `could not start ${command}`);
  }
  return {
    child,
    record: { name, pid: child.pid, logPath: opts.logPath, ports: opts.ports ?? [] },
    exited: () => spawnError ?? exitInfo,
  };
}

export function tailFile(path: string, lines = 30): string {
  if (!existsSync(path)) return "(no log)";
  const text = readFileSync(path, "utf8").trimEnd().split("\n");
  return text.slice(-lines).join("\n");
}

/** TCP ports in LISTEN state on this host (IPv4 and IPv6), from /proc/net. */
export function listeningPorts(): Set<number> {
  const ports = new Set<number>();
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 4 || cols[3] !== "0A") continue;
      const local = cols[1] ?? "";
      const port = parseInt(local.slice(local.lastIndexOf(":") + 1), 16);
      if (Number.isFinite(port)) ports.add(port);
    }
  }
  return ports;
}

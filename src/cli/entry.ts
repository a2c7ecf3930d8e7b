#!/usr/bin/env node
// The published bin. No static imports: on a Node.js too old for the dependencies (undici needs
// newer APIs) an import fails before any code of ours runs, with a stack trace instead of a
// sentence. So the version is checked here first, and the CLI loaded only afterwards.
const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 19)) {
  process.stderr.write(`kserve-reclaimer needs Node.js ≥ 22.19 (found ${process.versions.node})\n`);
  process.exit(1);
}
// The waker loads only its own modules (wakerEntry.ts says why).
const { runCli } = process.argv[2] === "waker" ? await import("./wakerEntry.ts") : await import("./main.ts");
runCli();

// The flag tables of docs/cli.md, generated from the commands' flag tables (as `help` is): between
// <!-- flags:NAME --> and <!-- /flags:NAME --> markers, so the prose around them stays hand-written.
import { flagsMarkdown } from "../config/flags.ts";
import type { Command } from "./io.ts";

const BLOCK = /<!-- flags:([a-z]+) -->\n[\s\S]*?<!-- \/flags:\1 -->/g;

/** The document with every flag block regenerated; a block naming no command is an error. */
export function renderFlagBlocks(doc: string, commands: readonly Command[]): string {
  return doc.replace(BLOCK, (_, name: string) => {
    const c = commands.find((x) => x.name === name);
    if (!c) throw new Error(`docs: <!-- flags:${name} --> names no command`);
    return `<!-- flags:${name} -->\n${flagsMarkdown(c.flags, { env: c.env ?? false })}\n<!-- /flags:${name} -->`;
  });
}

/** Names of the commands that have a block. */
export function flagBlocks(doc: string): string[] {
  return [...doc.matchAll(BLOCK)].map((m) => m[1] as string);
}

// `completion bash|zsh`: shell completion scripts generated from the command and flag tables, so a
// new flag completes as soon as it exists.
import { parseCommandLine } from "./arguments.ts";
import type { FlagSpec } from "../config/flags.ts";
import { type Command, PROGRAM, UsageError } from "./io.ts";

const FUNCTION = "_kserve_reclaimer";

function flagWords(c: Command): string[] {
  return [...Object.entries(c.flags).flatMap(([n, f]) => [`--${n}`, ...(f.short ? [`-${f.short}`] : [])]), "--help"];
}

export function bashCompletion(commands: readonly Command[]): string {
  const names = [...commands.map((c) => c.name), "help"].join(" ");
  const cases = commands.map((c) => `    ${c.name}) flags="${flagWords(c).join(" ")}" ;;`).join("\n");
  return `# bash completion for ${PROGRAM}: source <(${PROGRAM} completion bash)
${FUNCTION}() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" flags=""
  if [[ \${COMP_CWORD} -eq 1 ]]; then
    COMPREPLY=($(compgen -W "${names} --version --help" -- "$cur"))
    return
  fi
  case "\${COMP_WORDS[1]}" in
    help) [[ \${COMP_CWORD} -eq 2 ]] && COMPREPLY=($(compgen -W "${commands.map((c) => c.name).join(" ")}" -- "$cur")); return ;;
${cases}
  esac
  # flags when a flag is being typed; otherwise files (complete -o default)
  if [[ "$cur" == -* ]]; then COMPREPLY=($(compgen -W "$flags" -- "$cur")); fi
}
complete -o default -F ${FUNCTION} ${PROGRAM}
`;
}

/** Text inside a single-quoted zsh _arguments spec: no brackets or colons, quotes closed and reopened. */
function zshText(s: string): string {
  return s.replace(/\[/g, "(").replace(/\]/g, ")").replace(/:/g, "\\:").replace(/'/g, "'\\''");
}

function zshSpec(name: string, f: FlagSpec): string {
  const value = f.type === "string" ? `:${zshText(f.value ?? "value")}:${f.value === "FILE" || f.value === "PATH" ? "_files" : " "}` : "";
  const repeat = f.multiple ? "*" : "";
  const desc = `[${zshText(f.description)}]${value}`;
  if (!f.short) return `'${repeat}--${name}${f.type === "string" ? "=" : ""}${desc}'`;
  // a repeatable flag must not exclude its other spelling
  const exclusion = f.multiple ? "*" : `(-${f.short} --${name})`;
  return `'${exclusion}'{-${f.short},--${name}${f.type === "string" ? "=" : ""}}'${desc}'`;
}

export function zshCompletion(commands: readonly Command[]): string {
  const described = commands.map((c) => `    '${c.name}:${zshText(c.summary)}'`).join("\n");
  const cases = commands
    .map(
      (c) =>
        `    ${c.name}) _arguments -s ${Object.entries(c.flags)
          .map(([n, f]) => zshSpec(n, f))
          .join(" ")} '*:file:_files' ;;`,
    )
    .join("\n");
  return `#compdef ${PROGRAM}
# zsh completion for ${PROGRAM}: source <(${PROGRAM} completion zsh), or save as _${PROGRAM} in $fpath
${FUNCTION}() {
  local -a commands
  commands=(
${described}
  )
  if (( CURRENT == 2 )); then
    _describe -t commands command commands
    return
  fi
  local cmd=$words[2]
  shift words
  (( CURRENT-- ))
  case $cmd in
    help) _describe -t commands command commands ;;
${cases}
  esac
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then ${FUNCTION} "$@"; else compdef ${FUNCTION} ${PROGRAM}; fi
`;
}

/** The command, given the list it completes (which includes itself). */
export function completionCommand(commands: () => readonly Command[]): Command {
  return {
    name: "completion",
    summary: "print a shell completion script (bash or zsh)",
    usage: `completion bash|zsh

bash: source <(${PROGRAM} completion bash), or save it in /etc/bash_completion.d/
zsh:  source <(${PROGRAM} completion zsh), or save it as _${PROGRAM} in a directory of $fpath`,
    flags: {},
    run(argv, io) {
      const { positionals } = parseCommandLine(argv, {});
      const shell = positionals[0];
      if (positionals.length !== 1 || (shell !== "bash" && shell !== "zsh"))
        throw new UsageError(`completion takes one shell: bash or zsh${shell === undefined ? "" : `, not "${shell}"`}`);
      io.out(shell === "bash" ? bashCompletion(commands()) : zshCompletion(commands()));
      return 0;
    },
  };
}

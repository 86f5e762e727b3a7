// rnx completion bash|zsh: completion scripts generated from the command tree.
import { UsageError, type GroupSpec, type OptionSpec } from "./cli";

const longFlags = (options: OptionSpec[] = []) =>
  options.flatMap((o) => o.flags.replace(/\s*[<[].*$/, "").split(",").map((s) => s.trim()).filter((s) => s.startsWith("--")));

/** word lists: "" → top-level words; "group" → its commands; "group cmd" → that command's flags. */
function table(groups: GroupSpec[]): Map<string, string[]> {
  const t = new Map<string, string[]>();
  const top: string[] = ["--help", "--version"];
  for (const g of groups) {
    if (g.name) top.push(g.name);
    t.set(g.name, g.name ? g.commands.map((c) => c.name) : []);
    for (const c of g.commands) {
      if (!g.name) top.push(c.name);
      const key = g.name ? `${g.name} ${c.name}` : c.name;
      t.set(key, [...longFlags(c.options), ...longFlags(g.options), "--help"]);
    }
  }
  t.set("", top);
  return t;
}

function bash(program: string, t: Map<string, string[]>): string {
  const cases = [...t.entries()]
    .filter(([k]) => k !== "")
    .map(([k, words]) => `    "${k}") words="${words.join(" ")}" ;;`)
    .join("\n");
  const fn = `_${program}_complete`;
  return `# ${program} bash completion: source <(${program} completion bash)
${fn}() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" key="" words="" i
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "\${COMP_WORDS[i]}" in --config|--node) ((i++)); continue ;; -*) continue ;; esac
    if [[ -z "$key" ]]; then key="\${COMP_WORDS[i]}"; elif [[ "$key" != *" "* ]]; then key="$key \${COMP_WORDS[i]}"; fi
  done
  case "$key" in
    "") words="${t.get("")!.join(" ")}" ;;
${cases}
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F ${fn} ${program}
`;
}

function zsh(program: string, t: Map<string, string[]>): string {
  const cases = [...t.entries()]
    .filter(([k]) => k !== "")
    .map(([k, words]) => `    "${k}") choices=(${words.join(" ")}) ;;`)
    .join("\n");
  return `#compdef ${program}
# ${program} zsh completion: source <(${program} completion zsh)
_${program}() {
  local key="" w
  local -a choices
  local skip=0
  for w in \${words[2,CURRENT-1]}; do
    if (( skip )); then skip=0; continue; fi
    [[ "$w" == --config || "$w" == --node ]] && { skip=1; continue; }
    [[ "$w" == -* ]] && continue
    if [[ -z "$key" ]]; then key="$w"; elif [[ "$key" != *" "* ]]; then key="$key $w"; fi
  done
  case "$key" in
    "") choices=(${t.get("")!.join(" ")}) ;;
${cases}
  esac
  compadd -a choices
  _files
}
compdef _${program} ${program}
`;
}

export async function completion(program: string, groups: GroupSpec[], args: string[]): Promise<void> {
  const shell = args[0];
  const t = table(groups);
  if (shell === "bash") process.stdout.write(bash(program, t));
  else if (shell === "zsh") process.stdout.write(zsh(program, t));
  else throw new UsageError(`completion: expected "bash" or "zsh", got "${shell ?? ""}"`);
}

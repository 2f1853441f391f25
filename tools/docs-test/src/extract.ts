import fs from "node:fs";

/** One fenced code block of a markdown file. */
export interface CodeBlock {
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** First word of the info string (`ts`, `sh`, …; "" for a bare fence). */
  lang: string;
  /** The rest of the info string: how the docs test treats the block (e.g. `typecheck: needs a GPU`). */
  mode: string;
  code: string;
}

// A fence is three or more backticks at the start of a line (the only style our docs use; indented
// and tilde fences are CommonMark too, and are reported as an error so nothing hides in them).
const FENCE = /^(`{3,})(.*)$/;

/** Every fenced block of a markdown file, in order. An unclosed fence is an error naming the line. */
export function extractBlocks(file: string, text = fs.readFileSync(file, "utf8")): CodeBlock[] {
  const lines = text.split("\n");
  const blocks: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (/^\s{1,3}`{3}|^~{3}/.test(lines[i]!))
      throw new Error(`${file}:${i + 1}: use an unindented \`\`\` fence`);
    const open = FENCE.exec(lines[i]!);
    if (!open) continue;
    const [, ticks, info = ""] = open;
    const [lang = "", ...rest] = info.trim().split(/\s+/);
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && !lines[j]!.startsWith(ticks!)) body.push(lines[j++]!);
    if (j >= lines.length) throw new Error(`${file}:${i + 1}: code fence never closed`);
    blocks.push({ file, line: i + 1, lang, mode: rest.join(" "), code: body.join("\n") });
    i = j;
  }
  return blocks;
}

/** One command of a shell block: continuation lines joined, comments and the `$ ` prompt removed. */
export interface ShellCommand {
  /** 1-based line in the markdown file where the command starts. */
  line: number;
  /** Leading `NAME=value` assignments. */
  env: Record<string, string>;
  argv: string[];
}

/**
 * Split a `sh`/`bash`/`console` block into commands. In a `console` block only `$ ` lines are
 * commands (the rest is output). `a && b` is two commands. Words are split the way sh does for the
 * quoting our docs use (single and double quotes, backslash-newline); no expansion happens.
 */
export function shellCommands(block: CodeBlock): ShellCommand[] {
  const out: ShellCommand[] = [];
  const lines = block.code.split("\n");
  for (let i = 0; i < lines.length; i++) {
    let text = lines[i]!;
    const start = block.line + 1 + i;
    if (block.lang === "console") {
      if (!text.startsWith("$ ")) continue;
      text = text.slice(2);
    }
    while (text.endsWith("\\") && i + 1 < lines.length) text = `${text.slice(0, -1)} ${lines[++i]!.trim()}`;
    for (const part of splitWords(text)) {
      const env: Record<string, string> = {};
      while (part.length > 0 && /^[A-Z_][A-Z0-9_]*=/.test(part[0]!)) {
        const [name, ...value] = part.shift()!.split("=");
        env[name!] = value.join("=");
      }
      if (part.length > 0) out.push({ line: start, env, argv: part });
    }
  }
  return out;
}

/** Words of one line, split at unquoted `&&`, `;` and `|`; an unquoted `#` starts a comment. */
function splitWords(line: string): string[][] {
  const commands: string[][] = [[]];
  let word: string | undefined;
  let quote: string | undefined;
  const end = () => {
    if (word !== undefined) commands.at(-1)!.push(word);
    word = undefined;
  };
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
      else word += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      word ??= "";
    } else if (/\s/.test(c)) end();
    else if (c === "#" && word === undefined) break;
    else if (c === "&" && line[i + 1] === "&") {
      end();
      commands.push([]);
      i++;
    } else if (c === ";" || c === "|") {
      end();
      commands.push([]);
    } else word = (word ?? "") + c;
  }
  if (quote) throw new Error(`unclosed ${quote} in: ${line}`);
  end();
  return commands.filter((c) => c.length > 0);
}

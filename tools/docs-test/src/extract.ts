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

/** The nbformat 4 fields a Jupyter/Kaggle notebook must have; a missing one is named with its cell. */
export interface Notebook {
  nbformat: number;
  nbformat_minor: number;
  metadata: { kernelspec?: { name?: string; language?: string }; language_info?: { name?: string } };
  cells: { cell_type: string; source: string | string[]; metadata: object; outputs?: unknown[] }[];
}

/** Parses a notebook and checks it against nbformat 4's required fields (not the full JSON schema). */
export function readNotebook(file: string, text = fs.readFileSync(file, "utf8")): Notebook {
  let nb: Notebook;
  try {
    nb = JSON.parse(text);
  } catch (err) {
    throw new Error(`${file}: not JSON: ${(err as Error).message}`);
  }
  const problems: string[] = [];
  if (nb.nbformat !== 4) problems.push(`nbformat is ${nb.nbformat}, expected 4`);
  if (!Number.isInteger(nb.nbformat_minor)) problems.push("nbformat_minor missing");
  if (typeof nb.metadata !== "object" || nb.metadata === null) problems.push("metadata missing");
  if (!Array.isArray(nb.cells)) problems.push("cells is not a list");
  (Array.isArray(nb.cells) ? nb.cells : []).forEach((c, i) => {
    const at = `cell ${i + 1}`;
    if (!["code", "markdown", "raw"].includes(c.cell_type))
      problems.push(`${at}: cell_type "${c.cell_type}"`);
    if (
      typeof c.source !== "string" &&
      !(Array.isArray(c.source) && c.source.every((s) => typeof s === "string"))
    )
      problems.push(`${at}: source is neither a string nor a list of strings`);
    if (typeof c.metadata !== "object" || c.metadata === null) problems.push(`${at}: metadata missing`);
    if (c.cell_type === "code" && !Array.isArray(c.outputs))
      problems.push(`${at}: a code cell needs outputs`);
    if (c.cell_type === "code" && !("execution_count" in c))
      problems.push(`${at}: a code cell needs execution_count`);
  });
  if (problems.length) throw new Error(`${file}: not an nbformat 4 notebook: ${problems.join("; ")}`);
  return nb;
}

const cellText = (c: Notebook["cells"][number]) => (Array.isArray(c.source) ? c.source.join("") : c.source);

/**
 * The shell a notebook runs, as code blocks the docs test checks like a markdown file's: a `%%bash`
 * cell is one `bash` block; in a Python cell, each `!command` line is an `sh` block. A block's `file`
 * is `<notebook> cell <n>` and its commands' lines count from the cell's first line.
 */
export function notebookBlocks(file: string, nb: Notebook = readNotebook(file)): CodeBlock[] {
  return nb.cells.flatMap((c, i): CodeBlock[] => {
    if (c.cell_type !== "code") return [];
    const text = cellText(c);
    const at = `${file} cell ${i + 1}`;
    if (/^%%(bash|sh)\b/.test(text))
      return [{ file: at, line: 0, lang: "bash", mode: "", code: text.split("\n").slice(1).join("\n") }];
    return text
      .split("\n")
      .filter((l) => l.trimStart().startsWith("!"))
      .map((l) => ({ file: at, line: 0, lang: "sh", mode: "", code: l.trimStart().slice(1) }));
  });
}

/** The Python source of a notebook's code cells (IPython `!`/`%` lines and `%%` cells left out). */
export function notebookPython(nb: Notebook): { cell: number; code: string }[] {
  return nb.cells.flatMap((c, i) => {
    const text = cellText(c);
    if (c.cell_type !== "code" || text.startsWith("%%")) return [];
    const code = text
      .split("\n")
      .map((l) => (/^\s*[!%]/.test(l) ? "" : l))
      .join("\n");
    return [{ cell: i + 1, code }];
  });
}

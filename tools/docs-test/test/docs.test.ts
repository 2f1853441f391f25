// Docs that run: every TypeScript snippet and every shell command in README.md, the package
// READMEs and docs/*.md is checked, so a doc that drifts from the code fails CI.
// - ```ts: typechecked (strict, against the packages' sources) and executed in a sandbox folder
//   laid out like a user's project from the fixtures (data/, configs/). ```ts typecheck: <why> is
//   typechecked only — the reason is required (the internet, minutes of training, a checkpoint).
// - ```sh / ```bash / ```console ($ lines): each command of one of our bins is parsed by that bin's
//   own commander program (tools/docs-test/src/parse-only.mjs) with the exact arguments written;
//   with `sh run` the commands really run in the sandbox. npm scripts and nx targets must exist; an
//   nx target that runs one of our CLIs (`node apps/…/cli.js kaggle`) has its `--args` parsed by that
//   CLI too. `node FILE` and `bash FILE` must name a file; any other program must be a known external tool.
// - Notebooks (apps/*/kaggle/*.ipynb): their %%bash cells and `!` lines are shell blocks like the above.
// The bins run from dist/: .ci/run builds before it tests.
import { execFile, execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  type CodeBlock,
  extractBlocks,
  notebookBlocks,
  type ShellCommand,
  shellCommands,
} from "../src/extract.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../../..");
const run = promisify(execFile);

const docFiles = [
  "README.md",
  ...["packages", "apps"].flatMap((dir) =>
    fs
      .readdirSync(path.join(root, dir))
      .map((p) => `${dir}/${p}/README.md`)
      .filter((f) => fs.existsSync(path.join(root, f))),
  ),
  ...fs
    .readdirSync(path.join(root, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => `docs/${f}`),
];
const notebooks = fs
  .readdirSync(path.join(root, "apps"))
  .map((p) => `apps/${p}/kaggle`)
  .filter((d) => fs.existsSync(path.join(root, d)))
  .flatMap((d) =>
    fs
      .readdirSync(path.join(root, d))
      .filter((f) => f.endsWith(".ipynb"))
      .map((f) => `${d}/${f}`),
  );
const blocks = [
  ...docFiles.flatMap((f) => extractBlocks(f, fs.readFileSync(path.join(root, f), "utf8"))),
  ...notebooks.flatMap((f) => notebookBlocks(f, JSON.parse(fs.readFileSync(path.join(root, f), "utf8")))),
];
const where = (b: { file: string; line: number }) => `${b.file}:${b.line}`;
const isTs = (b: CodeBlock) => b.lang === "ts" || b.lang === "typescript";
const isShell = (b: CodeBlock) => ["sh", "bash", "shell", "console"].includes(b.lang);

/** Every bin of every workspace package: name → its built file. */
function workspaceBins(): Map<string, string> {
  const bins = new Map<string, string>();
  for (const dir of ["packages", "apps"].flatMap((d) =>
    fs.readdirSync(path.join(root, d)).map((p) => path.join(root, d, p)),
  )) {
    const manifest = path.join(dir, "package.json");
    if (!fs.existsSync(manifest)) continue;
    const pkg = JSON.parse(fs.readFileSync(manifest, "utf8"));
    for (const [name, file] of Object.entries<string>(pkg.bin ?? {})) bins.set(name, path.join(dir, file));
  }
  return bins;
}
const bins = workspaceBins();
const rootPkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));
/** Programs that are not ours: documented for the user to run, checked only for being known. */
const EXTERNAL = new Set(
  "git cd export set source ln kubectl img2dataset python python3 pip spark-submit aws tar ls cat head tail docker curl wget mkdir cp mv rm echo du hf huggingface-cli apt-get".split(
    " ",
  ),
);

let sandbox: string;
beforeAll(() => {
  // The layout the docs assume: data/ as the pipeline writes it, configs/ and fixtures/ as in a clone.
  sandbox = fs.mkdtempSync(path.join(os.tmpdir(), "laion-docs-"));
  for (const name of ["fixtures", "configs"]) fs.symlinkSync(path.join(root, name), path.join(sandbox, name));
  const data = path.join(sandbox, "data");
  fs.mkdirSync(path.join(data, "laion/webdataset"), { recursive: true });
  fs.symlinkSync(path.join(root, "fixtures/explicit_media"), path.join(data, "explicit_media"));
  fs.symlinkSync(path.join(root, "fixtures/sinhala"), path.join(data, "sinhala"));
  fs.copyFileSync(
    path.join(root, "fixtures/laion/test_1000.parquet"),
    path.join(data, "laion/filtered.parquet"),
  );
  writeShard(path.join(data, "laion/webdataset/00000.tar"));
});
afterAll(() => fs.rmSync(sandbox, { recursive: true, force: true }));

/** A small downloader-style shard ({key}.jpg/.txt/.json) from the captioned fixture photos, tarred by tar(1). */
function writeShard(file: string) {
  const captions = JSON.parse(
    fs.readFileSync(path.join(root, "fixtures/explicit_media/captions.json"), "utf8"),
  );
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "laion-docs-shard-"));
  const names: string[] = [];
  captions.slice(0, 4).forEach((c: { image: string; caption: string }, i: number) => {
    const key = `00000${String(i).padStart(4, "0")}`;
    fs.copyFileSync(path.join(root, "fixtures/explicit_media", c.image), path.join(dir, `${key}.jpg`));
    fs.writeFileSync(path.join(dir, `${key}.txt`), c.caption);
    // the downloader's metadata fields, so `decode: { json: asSampleMeta }` reads it as a real shard
    const meta = {
      caption: c.caption,
      url: `http://example.test/${c.image}`,
      key,
      status: "success",
      error_message: null,
      width: null,
      height: null,
      original_width: null,
      original_height: null,
      sha256: null,
    };
    fs.writeFileSync(path.join(dir, `${key}.json`), JSON.stringify(meta));
    names.push(`${key}.jpg`, `${key}.txt`, `${key}.json`);
  });
  execFileSync("tar", ["-cf", file, "-C", dir, ...names]);
  fs.rmSync(dir, { recursive: true, force: true });
}

describe("docs: code blocks are labelled", () => {
  test("a block holding commands says it is shell (sh, bash or console)", () => {
    const unlabelled = blocks.filter((b) => !b.lang && /^(\$ )?npx /m.test(b.code)).map(where);
    expect(unlabelled).toEqual([]);
  });
  test("a typecheck-only TypeScript block says why it is not run", () => {
    const bad = blocks.filter((b) => isTs(b) && b.mode && !/^typecheck: \S/.test(b.mode));
    expect(bad.map((b) => `${where(b)}: "${b.mode}"`)).toEqual([]);
  });
});

describe("docs: TypeScript snippets", () => {
  const snippets = blocks.filter(isTs);
  const dir = path.join(here, "../.snippets");
  const fileOf = (b: CodeBlock) => path.join(dir, `${b.file.replace(/[/.]/g, "_")}_${b.line}.ts`);

  beforeAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    // `export {}` makes each snippet a module, so top-level await is allowed as in a user's ESM file.
    for (const b of snippets) fs.writeFileSync(fileOf(b), `${b.code}\nexport {};\n`);
    const tsconfig = {
      extends: "../../../tsconfig.base.json",
      compilerOptions: { noUncheckedIndexedAccess: false },
      include: ["*.ts"],
    };
    fs.writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify(tsconfig, null, 2));
  });

  test("every snippet typechecks against the packages' sources", () => {
    const tsc = path.join(root, "node_modules/typescript/bin/tsc");
    let output = "";
    try {
      execFileSync(process.execPath, [tsc, "-p", dir, "--pretty", "false"], { encoding: "utf8" });
    } catch (err) {
      output = `${(err as { stdout?: string }).stdout ?? ""}`;
    }
    // Map "x.ts(3,5): error …" back to the markdown line.
    const errors = output
      .split("\n")
      .filter((l) => l.includes("error TS"))
      .map((l) => {
        const m = /([^/\\]+)\.ts\((\d+),\d+\): (.*)$/.exec(l);
        const b = m && snippets.find((s) => path.basename(fileOf(s), ".ts") === m[1]);
        return b && m ? `${b.file}:${b.line + Number(m[2])}: ${m[3]}` : l;
      });
    expect(errors).toEqual([]);
  }, 180_000);

  for (const b of snippets.filter((s) => !s.mode)) {
    test(`${where(b)} runs`, async () => {
      const cwd = process.cwd();
      process.chdir(sandbox);
      try {
        await import(pathToFileURL(fileOf(b)).href);
      } finally {
        process.chdir(cwd);
      }
    }, 120_000);
  }
});

describe("docs: shell commands", () => {
  const commands = blocks
    .filter(isShell)
    .flatMap((b) => shellCommands(b).map((c) => ({ ...c, block: b })))
    .map((c) => ({ ...c, argv: c.argv[0] === "npx" ? c.argv.slice(1) : c.argv }));

  test("every program is ours, an npm script, an nx target or a known external tool", () => {
    const problems = commands.flatMap((c) =>
      commandProblems(c).map((p) => `${c.block.file}:${c.line}: ${p}`),
    );
    expect(problems).toEqual([]);
  });

  // `nx run p:t --args="…"` of a target that runs one of our CLIs: that CLI parses the args
  const ours = commands
    .map((c) => {
      const viaNx = c.argv[0] === "nx" && c.argv[1] === "run" ? nxCliArgv(c.argv.slice(2)) : undefined;
      return viaNx ? { ...c, argv: viaNx } : c;
    })
    .filter((c) => bins.has(c.argv[0]!));
  // Each check is a separate node process, mostly waiting on module loading: run a few at once.
  test.concurrent.each(
    ours.map((c) => [`${c.block.file}:${c.line} ${c.argv.join(" ").slice(0, 80)}`, c] as const),
  )(
    "%s parses",
    async (_name, c) => {
      const real = c.block.mode === "run";
      const args = [
        ...(real ? [] : ["--import", path.join(here, "../src/parse-only.mjs")]),
        bins.get(c.argv[0]!)!,
      ];
      const env = { ...process.env, ...c.env, LAION_PARSE_ONLY_ROOT: root, NO_COLOR: "1" };
      const result = await run(process.execPath, [...args, ...c.argv.slice(1)], { cwd: sandbox, env }).catch(
        (err: { stdout?: string; stderr?: string; code?: number }) => err,
      );
      const said = `${result.stdout ?? ""}${result.stderr ?? ""}`;
      expect({ exit: "code" in result ? result.code : 0, said: said.slice(-600) }).toMatchObject({ exit: 0 });
      if (!real) expect(result.stdout ?? "").toMatch(/^parsed /m);
    },
    180_000,
  );
});

/** What is wrong with a documented command that is not one of our bins (nothing for ours). */
function commandProblems(c: ShellCommand): string[] {
  const [program, ...args] = c.argv;
  if (!program || bins.has(program)) return [];
  if (program === "npm") {
    if (args[0] === "run")
      return (args[1] ?? "") in (rootPkg.scripts ?? {}) ? [] : [`no npm script "${args[1]}"`];
    if (["ci", "test", "install", "i"].includes(args[0]!)) {
      const unknown = args
        .slice(1)
        .filter((a) => a.startsWith("@laion/") && !fs.existsSync(path.join(root, "node_modules", a)));
      return unknown.map((a) => `no package ${a} in this repository`);
    }
    return [`npm ${args[0]} is not a documented npm command here`];
  }
  if (program === "nx") {
    if (args[0] === "run-many" || args[0] === "release") return [];
    if (args[0] === "run") return nxTargetProblems(args[1] ?? "");
    return [`nx ${args[0]}: only run, run-many and release are documented`];
  }
  if (program === "node" || program === "bash") {
    const file = args.find((a) => !a.startsWith("-"));
    return file && !fs.existsSync(path.join(root, file)) ? [`${program} ${file}: no such file`] : [];
  }
  return EXTERNAL.has(program) ? [] : [`unknown program "${program}" (not a bin of this repository)`];
}

/** The parts of a package.json the shell checks read. */
interface Manifest {
  name?: string;
  bin?: Record<string, string>;
  scripts?: Record<string, string>;
  nx?: { name?: string; targets?: Record<string, { options?: { command?: unknown } }> };
}

/** The package.json of the nx project `name`, if there is one. */
function nxProject(name: string): { pkg: Manifest; dir: string } | undefined {
  for (const dir of ["packages", "apps"].flatMap((d) =>
    fs.readdirSync(path.join(root, d)).map((p) => path.join(root, d, p)),
  )) {
    const manifest = path.join(dir, "package.json");
    if (!fs.existsSync(manifest)) continue;
    const pkg: Manifest = JSON.parse(fs.readFileSync(manifest, "utf8"));
    if ((pkg.nx?.name ?? pkg.name) === name) return { pkg, dir };
  }
  return undefined;
}

/**
 * `nx run project:target [--args="…"]` as the argv of the bin it runs, when the target is an
 * nx:run-commands `node <a bin's file> …` (the app's kaggle, demo and stage targets); else undefined.
 */
function nxCliArgv(rest: string[]): string[] | undefined {
  const [project, target] = (rest[0] ?? "").split(":");
  const p = nxProject(project ?? "");
  const command = p?.pkg.nx?.targets?.[target ?? ""]?.options?.command;
  if (!p || typeof command !== "string") return undefined;
  const [node, file, ...fixed] = command.split(/\s+/);
  // the package's one bin runs that file (its launcher loads dist/cli.js)
  const own = Object.keys(p.pkg.bin ?? {});
  if (node !== "node" || own.length !== 1 || !path.join(root, file ?? "").startsWith(`${p.dir}/dist/`))
    return undefined;
  const args = rest.slice(1).flatMap((a) => (a.startsWith("--args=") ? shellWords(a.slice(7)) : []));
  return [own[0]!, ...fixed, ...args];
}

/** `--args` is one shell word holding the arguments (quotes already removed): split it again. */
const shellWords = (s: string) =>
  shellCommands({ file: "", line: 0, lang: "sh", mode: "", code: s })[0]?.argv ?? [];

function nxTargetProblems(spec: string): string[] {
  const [project, target] = spec.split(":");
  const p = nxProject(project ?? "");
  if (!p) return [`no nx project "${project}"`];
  const targets = { ...p.pkg.scripts, ...p.pkg.nx?.targets };
  return target && target in targets ? [] : [`project ${project} has no target "${target}"`];
}

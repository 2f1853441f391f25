#!/usr/bin/env node
// The packages as a user gets them: `npm pack` every publishable package, install the tarballs (and
// nothing from the workspace) into a temporary project, then in three flavours of consumer —
// ESM with `module: nodenext`, TypeScript `moduleResolution: bundler`, and CommonJS — typecheck a
// smoke script and (ESM, CommonJS) run it against the repository's fixtures. CommonJS runs with
// require(esm) switched off, as on Node 20.11, so an ESM-only file reached through `require` fails.
// Needs the packages built (`nx run-many -t build`). Run by .ci/run; `--keep` leaves the project.
// Time goes to installing ~0.5 GB of node_modules, three tsc runs and two smoke runs: the project sits
// on tmpfs (/dev/shm) when there is room, and the three flavours run at once (before/after in
// docs/benchmarks.md).
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { packAndInstall, ROOT as root } from "./pack-install.mjs";

const keep = process.argv.includes("--keep");
/** tmpfs when it has room for the install (its files never touch the disk), else the temp folder. */
function workParent() {
  try {
    const { bavail, bsize } = fs.statfsSync("/dev/shm");
    if (bavail * bsize > 2 * 1024 ** 3) return "/dev/shm";
  } catch {}
  return os.tmpdir();
}
const work = fs.mkdtempSync(path.join(workParent(), "laion-consumer-"));
const fixtures = path.join(root, "fixtures");
const t0 = Date.now();
const step = (what) => console.log(`consumer: ${what} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);

const execFileAsync = promisify(execFile);
/** A command's stdout without blocking, so independent steps overlap; a failure carries its output. */
async function runAsync(cmd, args, cwd) {
  try {
    const { stdout } = await execFileAsync(cmd, args, { cwd, encoding: "utf8", maxBuffer: 64 * 1024 ** 2 });
    return stdout;
  } catch (err) {
    throw new Error(`${cmd} ${args.join(" ")} (in ${cwd}) failed:\n${err.stdout ?? ""}${err.stderr ?? ""}`);
  }
}

const packages = fs
  .readdirSync(path.join(root, "packages"))
  .map((name) => path.join(root, "packages", name))
  .filter((dir) => {
    const pkg = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"));
    if (!fs.existsSync(path.join(dir, "dist/index.js")))
      throw new Error(`${pkg.name} is not built: run nx run-many -t build`);
    return !pkg.private;
  });

// 1. Pack what npm would publish and install the tarballs into a fresh project.
const { packed, app } = packAndInstall(packages, work);
step(`packed and installed ${packed.map((p) => `${p.name}@${p.version}`).join(", ")}`);

// 2. Each tarball holds the build, LICENSE and README, and no sources or tests.
for (const p of packed) {
  const files = p.files.map((f) => f.path);
  for (const need of [
    "LICENSE",
    "README.md",
    "package.json",
    "dist/index.js",
    "dist/index.cjs",
    "dist/index.d.cts",
  ])
    if (!files.includes(need)) throw new Error(`${p.name}: the tarball lacks ${need}`);
  if (files.some((f) => f.startsWith("src/") || f.startsWith("test/")))
    throw new Error(`${p.name}: src/ or test/ packed`);
}

// 3. One smoke script, written three ways. Each line touches a package through its public API.
const smokeBody = (fix) => `
  const rng = createRng(7);
  const mixed: string[] = [];
  for await (const { source } of mix([{ name: "a", weight: 1, source: [1, 2] }, { name: "b", weight: 1, source: [3] }], { seed: 1, stopWhen: "all_exhausted" })) mixed.push(source);
  // typed members: a required raw member is Uint8Array, a decoded cls a number (a wrong type fails tsc)
  let samples = 0;
  for await (const s of WebDataset(${JSON.stringify(`${fix}/webdataset/tendata.tar`)}, { members: ["ten"] })) {
    const key: string = s.__key__;
    const bytes: Uint8Array = s.ten;
    samples += key && bytes.byteLength > 0 ? 1 : 0;
  }
  let classes = 0;
  for await (const s of WebDataset(${JSON.stringify(`${fix}/webdataset/sample.tgz`)}, { decode: { cls: true }, members: ["png", "cls"] })) {
    const cls: number = s.cls;
    const png: Uint8Array = s.png;
    classes += Number.isInteger(cls) && png.byteLength > 0 ? 1 : 0;
  }
  const { rows } = fetchLaion({ sources: [{ location: ${JSON.stringify(`${fix}/laion/test_1000.parquet`)}, kind: "file" }], maxSamples: 3 });
  let kept = 0;
  for await (const row of rows) kept += typeof row.URL === "string" ? 1 : 0;
  const { name } = await selectBackend({ prefer: "wasm" });
  const tok = await trainBpe({ texts: ["ශ්‍රී ලංකාව", "a photo of a cat"], vocabSize: 260 });
  const roundTrip = tok.decode(tok.encode("මම 🙂")) === "මම 🙂";
  const parsed = intOption("--n", { min: 1 })("5");
  // the report embeds the packaged Sinhala font, found next to the module (import.meta.url / __filename)
  const font = (await renderReport({ title: "t", metrics: [], samples: [{ kind: "text", prompt: "ශ්‍රී", output: "" }], plan: "" })).includes("base64,d09GMg");
  console.log(JSON.stringify({ rng: rng.nextUint32() > 0, mixed: mixed.length, samples, classes, kept, backend: name, roundTrip, parsed, font }));
`;
const expected = {
  rng: true,
  mixed: 3,
  samples: 100,
  classes: 90,
  kept: 3,
  backend: "wasm",
  roundTrip: true,
  parsed: 5,
  font: true,
};
const imports = [
  ["@laion/mixer", "createRng, mix"],
  ["@laion/shards", "WebDataset"],
  ["@laion/fetch", "fetchLaion"],
  ["@laion/vq", "selectBackend"],
  ["@laion/trainer-2b", "renderReport, trainBpe"],
  ["@laion/cli-kit", "intOption"],
];
const esmImports = imports.map(([pkg, names]) => `import { ${names} } from "${pkg}";`).join("\n");
const cjsRequires = imports.map(([pkg, names]) => `const { ${names} } = require("${pkg}");`).join("\n");
const nodeTypes = path.join(root, "node_modules/@types");
const tsc = path.join(root, "node_modules/typescript/bin/tsc");
const compilerOptions = (extra) => ({
  strict: true,
  exactOptionalPropertyTypes: true,
  noUncheckedIndexedAccess: true,
  target: "es2022",
  lib: ["es2023"],
  // as consumers compile: tfjs's own .d.ts need DOM types and are not strict-clean
  skipLibCheck: true,
  types: ["node"],
  typeRoots: [nodeTypes],
  outDir: "out",
  ...extra,
});
const flavours = {
  esm: {
    type: "module",
    file: "smoke.ts",
    source: `${esmImports}\n${smokeBody(fixtures)}`,
    options: { module: "nodenext", moduleResolution: "nodenext" },
    run: "out/smoke.js",
  },
  bundler: {
    type: "module",
    file: "smoke.ts",
    source: `${esmImports}\n${smokeBody(fixtures)}`,
    options: { module: "esnext", moduleResolution: "bundler", noEmit: true },
  },
  cjs: {
    type: "commonjs",
    file: "smoke.ts",
    // No top-level await in CommonJS: the body runs in an async main.
    source: `${cjsRequires}\nasync function main(): Promise<void> {${smokeBody(fixtures)}}\nmain().catch((e) => { console.error(e); process.exitCode = 1; });\nexport {};`,
    options: { module: "nodenext", moduleResolution: "nodenext", verbatimModuleSyntax: false },
    run: "out/smoke.js",
  },
};
// Node 20.19+ and 22.12+ can require() ESM; switch that off to behave as Node 20.11 does.
const noRequireEsm = process.allowedNodeEnvironmentFlags.has("--no-experimental-require-module")
  ? ["--no-experimental-require-module"]
  : [];
async function checkFlavour(flavour, f) {
  const dir = path.join(app, flavour);
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ type: f.type }));
  fs.writeFileSync(path.join(dir, f.file), f.source);
  const tsconfig = { compilerOptions: compilerOptions(f.options), files: [f.file] };
  fs.writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify(tsconfig, null, 2));
  await runAsync(process.execPath, [tsc, "-p", "tsconfig.json"], dir);
  if (!f.run) {
    step(`${flavour}: typechecks`);
    return;
  }
  const args = [...(flavour === "cjs" ? noRequireEsm : []), f.run];
  const out = (await runAsync(process.execPath, args, dir)).trim().split("\n").at(-1);
  if (out !== JSON.stringify(expected))
    throw new Error(`${flavour} smoke printed ${out}, expected ${JSON.stringify(expected)}`);
  step(`${flavour}: typechecks and runs`);
}

// 4. A bin, run the way a user would.
async function checkBin() {
  const tar = path.join(fixtures, "webdataset/tendata.tar");
  const ls = await runAsync("npx", ["--no-install", "laion-shards", "ls", tar], app);
  if (!ls.includes("000000")) throw new Error(`laion-shards ls printed no keys:\n${ls.slice(0, 500)}`);
  step("laion-shards ls runs from the installed package");
}

// The flavours and the bin only read the installed project: run them at once.
const results = await Promise.allSettled([
  ...Object.entries(flavours).map(([flavour, f]) => checkFlavour(flavour, f)),
  checkBin(),
]);
const errors = results.filter((r) => r.status === "rejected").map((r) => r.reason);
if (errors.length > 0) {
  if (!keep) fs.rmSync(work, { recursive: true, force: true });
  throw errors.length === 1
    ? errors[0]
    : new AggregateError(errors, errors.map((e) => e.message).join("\n\n"));
}

if (keep) console.log(`consumer: project kept at ${app}`);
else fs.rmSync(work, { recursive: true, force: true });
console.log(`consumer: ok in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

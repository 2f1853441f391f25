#!/usr/bin/env node
// `npm run bench` lists the benchmarks; `npm run bench -- <name> [args]` runs tools/bench/<name>.bench.mjs.
// Each benchmark prints its own ratios against a baseline run in the same process (docs/benchmarks.md).
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const dir = path.dirname(fileURLToPath(import.meta.url));
const names = readdirSync(dir)
  .filter((f) => f.endsWith(".bench.mjs"))
  .map((f) => f.slice(0, -".bench.mjs".length))
  .sort();
const [name, ...args] = process.argv.slice(2);
if (!name) {
  console.log(`benchmarks (npm run bench -- <name>):\n  ${names.join("\n  ")}`);
} else if (!names.includes(name)) {
  console.error(`error: no benchmark "${name}"; known: ${names.join(", ")}`);
  process.exitCode = 2;
} else {
  const r = spawnSync(process.execPath, [path.join(dir, `${name}.bench.mjs`), ...args], { stdio: "inherit" });
  process.exitCode = r.status ?? 1;
}

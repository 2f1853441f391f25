#!/usr/bin/env node
// What a user installs: `npm pack` one package and the workspace packages it depends on, install the
// tarballs into an empty project (offline when the cache has everything, install scripts off), and
// print the size of node_modules plus its largest entries. Needs the packages built.
// Usage: node tools/scripts/installed-size.mjs [@laion/vq] [--keep]
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { packAndInstall, ROOT as root, run } from "./pack-install.mjs";

const target = process.argv.slice(2).find((a) => !a.startsWith("--")) ?? "@laion/vq";
const keep = process.argv.includes("--keep");

/** Workspace package name → its folder. */
const workspace = new Map();
for (const group of ["packages", "apps"])
  for (const name of fs.readdirSync(path.join(root, group))) {
    const dir = path.join(root, group, name);
    const file = path.join(dir, "package.json");
    if (fs.existsSync(file)) workspace.set(JSON.parse(fs.readFileSync(file, "utf8")).name, dir);
  }

/** The target and every workspace package it reaches through `dependencies`. */
function closure(name, seen = new Set()) {
  if (seen.has(name) || !workspace.has(name)) return seen;
  seen.add(name);
  const pkg = JSON.parse(fs.readFileSync(path.join(workspace.get(name), "package.json"), "utf8"));
  for (const dep of Object.keys(pkg.dependencies ?? {})) closure(dep, seen);
  return seen;
}

const names = [...closure(target)];
if (names.length === 0) throw new Error(`${target} is not a workspace package`);
const work = fs.mkdtempSync(path.join(os.tmpdir(), "laion-size-"));
const { app } = packAndInstall(
  names.map((n) => workspace.get(n)),
  work,
  { name: "size" },
);
const du = (p) => Number(run("du", ["-sk", p], app).split("\t")[0]) * 1024;
const mb = (b) => `${(b / 1e6).toFixed(1)} MB`;
const modules = path.join(app, "node_modules");
const entries = fs
  .readdirSync(modules)
  .flatMap((d) =>
    d.startsWith("@")
      ? fs.readdirSync(path.join(modules, d)).map((s) => `${d}/${s}`)
      : d.startsWith(".")
        ? []
        : [d],
  );
const largest = entries
  .map((e) => ({ e, bytes: du(path.join(modules, e)) }))
  .sort((a, b) => b.bytes - a.bytes)
  .slice(0, 8);
console.log(
  `${target} (+ ${names.filter((n) => n !== target).join(", ")}): node_modules ${mb(du(modules))}, ${entries.length} packages`,
);
for (const { e, bytes } of largest) console.log(`  ${mb(bytes).padStart(9)}  ${e}`);
if (keep) console.log(`kept ${app}`);
else fs.rmSync(work, { recursive: true, force: true });

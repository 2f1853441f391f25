#!/usr/bin/env node
// How many names each package's src/index.ts exports (values and types), for issue 18's curated APIs.
// Usage: node tools/scripts/export-counts.mjs [ROOT]
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import ts from "typescript";

const root = path.resolve(process.argv[2] ?? ".");
const entries = [];
for (const group of ["packages", "apps"]) {
  for (const pkg of readdirSync(path.join(root, group))) {
    const index = path.join(root, group, pkg, "src", "index.ts");
    if (existsSync(index)) entries.push([`${group}/${pkg}`, index]);
  }
}
const program = ts.createProgram(
  entries.map(([, f]) => f),
  {
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    customConditions: ["@laion/source"],
    allowImportingTsExtensions: true,
    noEmit: true,
    skipLibCheck: true,
  },
);
const checker = program.getTypeChecker();
for (const [name, file] of entries) {
  const sf = program.getSourceFile(file);
  const symbol = sf && checker.getSymbolAtLocation(sf);
  const exports = symbol ? checker.getExportsOfModule(symbol) : [];
  console.log(`${String(exports.length).padStart(4)}  ${name}`);
}

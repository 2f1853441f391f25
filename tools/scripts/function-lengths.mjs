#!/usr/bin/env node
// The longest functions of packages/*/src and apps/*/src (lines from declaration to closing brace),
// for issue 18's "none over about 100 lines". Usage: node tools/scripts/function-lengths.mjs [N] [ROOT]
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import ts from "typescript";

const count = Number(process.argv[2] ?? 10);
const root = path.resolve(process.argv[3] ?? ".");

function* sources(dir) {
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) yield* sources(p);
    else if (p.endsWith(".ts") && !p.endsWith(".d.ts")) yield p;
  }
}

const rows = [];
for (const group of ["packages", "apps"]) {
  for (const pkg of readdirSync(path.join(root, group))) {
    const src = path.join(root, group, pkg, "src");
    try {
      statSync(src);
    } catch {
      continue;
    }
    for (const file of sources(src)) {
      const sf = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true);
      const visit = (node) => {
        if (ts.isFunctionLike(node) && "body" in node && node.body) {
          const start = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
          const end = sf.getLineAndCharacterOfPosition(node.end).line;
          const name =
            node.name?.getText(sf) ??
            (ts.isVariableDeclaration(node.parent) ? node.parent.name.getText(sf) : "(anonymous)");
          rows.push({ lines: end - start + 1, name, where: `${path.relative(root, file)}:${start + 1}` });
        }
        ts.forEachChild(node, visit);
      };
      visit(sf);
    }
  }
}
rows.sort((a, b) => b.lines - a.lines);
for (const r of rows.slice(0, count)) console.log(`${String(r.lines).padStart(4)}  ${r.name}  ${r.where}`);

// Every workspace package is used through its index (or a subpath its package.json exports): an import
// of another package's internals — `@laion/vq/src/x`, `../../packages/vq/src/x` — fails here. The
// benchmarks load a package's built index (`packages/x/dist/index.js`), which is the same API.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { expect, test } from "vitest";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

interface Pkg {
  name: string;
  dir: string;
  exports: string[];
}
const packages: Pkg[] = [];
for (const group of ["packages", "apps", "tools", "tools/grounded"]) {
  const dirs = group.startsWith("tools")
    ? [path.join(root, group)]
    : fs.readdirSync(path.join(root, group)).map((d) => path.join(root, group, d));
  for (const dir of dirs) {
    const file = path.join(dir, "package.json");
    if (!fs.existsSync(file)) continue;
    const pkg = JSON.parse(fs.readFileSync(file, "utf8"));
    packages.push({ name: pkg.name, dir, exports: Object.keys(pkg.exports ?? { ".": "" }) });
  }
}
// the innermost package folder owns a file (tools/grounded is inside tools)
const ownerOf = (file: string) =>
  packages
    .filter((p) => file.startsWith(`${p.dir}${path.sep}`))
    .sort((a, b) => b.dir.length - a.dir.length)[0];

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (["node_modules", "dist", ".nx", "fixtures", "kaggle"].includes(e.name)) return [];
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return /\.(ts|mts|mjs|js)$/.test(e.name) && !e.name.endsWith(".d.ts") ? [p] : [];
  });
}

function deepImports(file: string): string[] {
  const owner = ownerOf(file);
  const text = fs.readFileSync(file, "utf8");
  const problems: string[] = [];
  for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)["']([^"']+)["']/g)) {
    const spec = m[1] as string;
    const scoped = /^(@laion\/[^/]+)(\/.+)?$/.exec(spec);
    if (scoped) {
      const target = packages.find((p) => p.name === scoped[1]);
      if (target && scoped[2] && !target.exports.includes(`.${scoped[2]}`))
        problems.push(`${spec} (not in ${target.name}'s exports)`);
      continue;
    }
    if (!spec.startsWith(".")) continue;
    const resolved = path.resolve(path.dirname(file), spec);
    const target = ownerOf(resolved);
    if (!target || target === owner) continue;
    if (path.relative(target.dir, resolved) !== path.join("dist", "index.js"))
      problems.push(`${spec} (inside ${target.name})`);
  }
  return problems.map((p) => `${path.relative(root, file)}: ${p}`);
}

test("no workspace package imports another's internals", () => {
  // this file holds deep imports on purpose, in its probe below
  const files = packages
    .flatMap((p) => sourceFiles(p.dir))
    .filter((f) => f !== fileURLToPath(import.meta.url));
  expect(files.length).toBeGreaterThan(100);
  expect(files.flatMap(deepImports)).toEqual([]);
});

test("the check sees a deep import", () => {
  const probe = path.join(root, "tools/test/.deep-import-probe.ts");
  fs.writeFileSync(
    probe,
    'import { x } from "@laion/vq/src/x.js";\nimport { y } from "../../packages/vq/src/y.js";\n',
  );
  try {
    expect(deepImports(probe)).toHaveLength(2);
  } finally {
    fs.rmSync(probe);
  }
});

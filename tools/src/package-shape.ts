import fs from "node:fs";
import path from "node:path";

/**
 * Problems that would make a workspace package unfit to publish: exports without types first,
 * missing files/license/repository, bins that tsup does not build, or a dependency on another
 * package's internals. Returns an empty list for a good package.
 */
export function packageShapeProblems(packageDir: string): string[] {
  const pkg = JSON.parse(fs.readFileSync(path.join(packageDir, "package.json"), "utf8"));
  const problems: string[] = [];
  const root = pkg.exports?.["."];
  if (!root || typeof root !== "object") problems.push('exports["."] must be an object of conditions');
  else {
    // Our workspace-only condition comes first so TypeScript and vitest resolve sources; among the
    // public conditions "types" must come first, as consumers' resolvers take the first match.
    const conds = Object.keys(root).filter((c) => c !== "@laion/source");
    if (conds[0] !== "types") problems.push(`exports["."] must list "types" first, got ${conds.join(",")}`);
    if (root.import !== "./dist/index.js") problems.push('exports["."].import must be ./dist/index.js');
    if (root["@laion/source"] !== "./src/index.ts")
      problems.push('exports["."]["@laion/source"] must be ./src/index.ts (workspace sources for tests)');
  }
  for (const key of ["license", "repository", "description", "version"])
    if (!pkg[key]) problems.push(`missing ${key}`);
  if (!Array.isArray(pkg.files) || !pkg.files.includes("dist")) problems.push('files must include "dist"');
  if (pkg.type !== "module") problems.push('type must be "module"');
  const tsup = fs.readFileSync(path.join(packageDir, "tsup.config.ts"), "utf8");
  for (const [name, target] of Object.entries<string>(pkg.bin ?? {})) {
    const src = target.replace("./dist/", "src/").replace(/\.js$/, ".ts");
    if (!tsup.includes(JSON.stringify(src)))
      problems.push(`bin ${name} -> ${target}: ${src} is not a tsup entry`);
    if (!fs.existsSync(path.join(packageDir, src))) problems.push(`bin ${name}: ${src} does not exist`);
  }
  const srcDir = path.join(packageDir, "src");
  for (const file of fs.readdirSync(srcDir, { recursive: true }) as string[]) {
    if (!file.endsWith(".ts")) continue;
    const text = fs.readFileSync(path.join(srcDir, file), "utf8");
    const deep = text.match(/from\s+["'](@laion\/[^"']+\/(?:src|dist)\/[^"']*|\.\.\/\.\.\/[^"']*)["']/);
    if (deep) problems.push(`src/${file} reaches into another package: ${deep[1]}`);
    for (const m of text.matchAll(/from\s+["']([^."'][^"']*)["']/g)) {
      const spec = m[1]!;
      if (spec.startsWith("node:")) continue;
      const name = spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0]!;
      const declared = { ...pkg.dependencies, ...pkg.peerDependencies, ...pkg.optionalDependencies };
      if (!(name in declared))
        problems.push(`src/${file} imports ${name}, which is not a declared dependency`);
    }
  }
  return problems;
}

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
    // Our workspace-only condition comes first so TypeScript and vitest resolve sources; then one
    // branch per module system, each with "types" first (resolvers take the first match) and the
    // declaration file of its own flavour (.d.ts for ESM, .d.cts for CommonJS), so that `import`
    // and `require` both typecheck under nodenext.
    const conds = Object.keys(root);
    if (conds[0] !== "@laion/source" || root["@laion/source"] !== "./src/index.ts")
      problems.push(
        'exports["."] must start with "@laion/source": "./src/index.ts" (workspace sources for tests)',
      );
    const want = {
      import: { types: "./dist/index.d.ts", default: "./dist/index.js" },
      require: { types: "./dist/index.d.cts", default: "./dist/index.cjs" },
    };
    // A private package (the app) is run, never required: ESM only is fine there.
    if (pkg.private) delete (want as Partial<typeof want>).require;
    for (const [cond, expected] of Object.entries(want)) {
      if (JSON.stringify(root[cond]) !== JSON.stringify(expected))
        problems.push(`exports["."].${cond} must be ${JSON.stringify(expected)} (types first)`);
    }
    if (!pkg.private && pkg.main !== "./dist/index.cjs")
      problems.push("main must be ./dist/index.cjs (what old resolvers require)");
  }
  if (!fs.existsSync(path.join(packageDir, "LICENSE"))) problems.push("missing LICENSE file");
  if (!fs.existsSync(path.join(packageDir, "README.md"))) problems.push("missing README.md");
  for (const key of ["license", "repository", "description", "version"])
    if (!pkg[key]) problems.push(`missing ${key}`);
  if (!Array.isArray(pkg.files) || !pkg.files.includes("dist")) problems.push('files must include "dist"');
  if (pkg.type !== "module") problems.push('type must be "module"');
  const tsup = fs.readFileSync(path.join(packageDir, "tsup.config.ts"), "utf8");
  for (const [name, target] of Object.entries<string>(pkg.bin ?? {})) {
    // a bin is a committed launcher (bin/<name>.js importing ../dist/<entry>.js), so npm links it at install time
    const launcher = path.join(packageDir, target);
    const built = fs.existsSync(launcher)
      ? /"\.\.\/dist\/([^"]+)\.js"/.exec(fs.readFileSync(launcher, "utf8"))
      : null;
    if (!target.startsWith("./bin/") || !built) {
      problems.push(
        `bin ${name} -> ${target}: must be a committed launcher bin/${name}.js importing ../dist/<entry>.js`,
      );
      continue;
    }
    if (!pkg.files?.includes("bin")) problems.push('files must include "bin" (the bin launchers)');
    const src = `src/${built[1]}.ts`;
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

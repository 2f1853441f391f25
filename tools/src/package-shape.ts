import fs from "node:fs";
import { builtinModules } from "node:module";
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
  }
  problems.push(...dependencyProblems(pkg, scanSources(srcDir)));
  return problems;
}

// Every way src/ names a package: static and side-effect imports, re-exports, `import("x")`,
// `require("x")` (or a createRequire function named require…, e.g. `requireCjs("x")`) and
// `….resolve("x/file")` (a file shipped inside a package, e.g. a font).
const IMPORT_PATTERNS = [
  /\bfrom\s+["']([^"']+)["']/g,
  /\bimport\s+["']([^"']+)["']/g,
  /\bimport\(\s*["']([^"']+)["']\s*\)/g,
  /\brequire\w*\(\s*["']([^"']+)["']\s*\)/g,
  /\.resolve\(\s*["']([^"']+)["']/g,
];

/** The package name of a bare specifier (`@scope/name/sub` → `@scope/name`), or null for relative and `node:` ones. */
export function packageOf(specifier: string): string | null {
  if (specifier.startsWith(".") || specifier.startsWith("/") || specifier.startsWith("node:")) return null;
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!;
}

/** What src/ uses of other packages. */
export interface SourceScan {
  /** Package name → the src files that import it. */
  imported: Map<string, string[]>;
  /** All of src/'s text: an optional peer, loaded by a computed name, must at least be named in it. */
  text: string;
}

/** Scans the `.ts` files under srcDir (ambient `.d.ts` declarations are not imports). */
export function scanSources(srcDir: string): SourceScan {
  const used = new Map<string, string[]>();
  let all = "";
  for (const file of fs.readdirSync(srcDir, { recursive: true }) as string[]) {
    if (!file.endsWith(".ts") || file.endsWith(".d.ts")) continue;
    const text = fs.readFileSync(path.join(srcDir, file), "utf8");
    all += text;
    for (const pattern of IMPORT_PATTERNS) {
      for (const m of text.matchAll(pattern)) {
        const name = packageOf(m[1]!);
        if (name === null || builtinModules.includes(name)) continue;
        used.set(name, [...(used.get(name) ?? []), `src/${file}`]);
      }
    }
  }
  return { imported: used, text: all };
}

/**
 * A package declares what its src imports and nothing else: an import without a declaration fails for
 * the user who installs the tarball; a declaration without an import (a test-only library, a leftover)
 * is installed for every user for nothing. Versions are ranges, so a user's install can share one copy
 * with their other dependencies (workspace packages, released together, are pinned on purpose).
 */
export function dependencyProblems(
  pkg: {
    dependencies?: Record<string, string>;
    optionalDependencies?: Record<string, string>;
    peerDependencies?: Record<string, string>;
    peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  },
  { imported, text }: SourceScan,
): string[] {
  const problems: string[] = [];
  const optionalPeer = (name: string) => pkg.peerDependenciesMeta?.[name]?.optional === true;
  const declared = { ...pkg.dependencies, ...pkg.peerDependencies, ...pkg.optionalDependencies };
  for (const [name, files] of imported) {
    if (!(name in declared)) problems.push(`${files[0]} imports ${name}, which is not a declared dependency`);
  }
  for (const [name, range] of Object.entries(declared)) {
    if (optionalPeer(name) ? !text.includes(name) : !imported.has(name))
      problems.push(`${name} is a dependency, but nothing in src/ imports it (a devDependency, or unused?)`);
    if (!name.startsWith("@laion/") && /^\d+\.\d+\.\d+$/.test(range))
      problems.push(`${name} is pinned to ${range}: declare a range such as ^${range}`);
  }
  return problems;
}

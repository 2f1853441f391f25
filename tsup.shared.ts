import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { defineConfig, type Options } from "tsup";

/**
 * The one build recipe of every package, for Node ≥ 20.11:
 * - the public API (src/index.ts) as ESM (`index.js` + `index.d.ts`) and CommonJS (`index.cjs` +
 *   `index.d.cts`), so both `import` and `require` work (Node 20.11 has no require(esm));
 * - each bin (the other `entries`) as ESM only: bins are run, never required, and may use
 *   top-level await.
 * `commonjs: false` builds ESM only (the private app, which uses import.meta.url).
 * The CommonJS build bundles the dependencies that are ESM-only (got, hyparquet…), because
 * `require()` of them throws ERR_REQUIRE_ESM before Node 20.19; the ESM build keeps every
 * dependency external.
 */
export function packageBuild(entries: string[], overrides: Options = {}, { commonjs = true } = {}) {
  // Cleaned here, once, rather than with tsup's `clean`: the configs below build in parallel and
  // one's clean could delete another's fresh output.
  fs.rmSync("dist", { recursive: true, force: true });
  const pkg = JSON.parse(fs.readFileSync("package.json", "utf8"));
  const common: Options = {
    sourcemap: true,
    target: "node20",
    tsconfig: "tsconfig.build.json",
    // tsup keeps dependencies and peerDependencies external by itself; optional ones (webgpu…) are
    // loaded at run time when installed and must never be bundled (nor fail the build when absent).
    external: Object.keys(pkg.optionalDependencies ?? {}),
    ...overrides,
  };
  if (!commonjs)
    return defineConfig({ ...common, entry: entries, format: ["esm"], dts: { entry: "src/index.ts" } });
  const esmOnly = esmOnlyDependencies(process.cwd());
  const api: Options = {
    ...common,
    entry: ["src/index.ts"],
    format: ["esm", "cjs"],
    dts: { entry: "src/index.ts" },
    // import.meta.url (used to resolve packaged files) gets a __filename-based shim in the CJS copy.
    shims: true,
    noExternal: [...((common.noExternal as string[] | undefined) ?? []), ...esmOnly],
    // Only the CommonJS copy inlines the ESM-only dependencies; ESM keeps them external.
    esbuildOptions(options, { format }) {
      if (format === "esm") options.external = [...(options.external ?? []), ...esmOnly];
    },
  };
  const bins = entries.filter((e) => e !== "src/index.ts");
  return defineConfig(bins.length > 0 ? [api, { ...common, entry: bins, format: ["esm"] }] : [api]);
}

/**
 * The package's dependencies that CommonJS cannot `require()` on Node 20.11: `"type": "module"`
 * packages whose exports offer no `require` condition and no `.cjs` file.
 */
export function esmOnlyDependencies(packageDir: string): string[] {
  const pkg = JSON.parse(fs.readFileSync(path.join(packageDir, "package.json"), "utf8"));
  const req = createRequire(path.join(packageDir, "package.json"));
  return Object.keys(pkg.dependencies ?? {}).filter((name) => {
    if (name.startsWith("@laion/")) return false; // our own packages ship a CommonJS build
    const manifest = findManifest(req, name);
    if (!manifest) return false;
    const dep = JSON.parse(fs.readFileSync(manifest, "utf8"));
    const exportsText = JSON.stringify(dep.exports ?? {});
    const requirable =
      dep.type !== "module" || exportsText.includes('"require"') || exportsText.includes(".cjs");
    return !requirable;
  });
}

/** The dependency's package.json, found by walking up from its resolved entry (exports may hide ./package.json). */
function findManifest(req: NodeJS.Require, name: string): string | undefined {
  for (const dir of req.resolve.paths(name) ?? []) {
    const candidate = path.join(dir, name, "package.json");
    if (fs.existsSync(candidate)) return candidate;
  }
  return undefined;
}

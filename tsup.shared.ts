import { defineConfig, type Options } from "tsup";

/**
 * The one build recipe of every package: ESM for Node 20 with `.d.ts` for the public API only
 * (src/index.ts). `entries` are src/index.ts plus each bin's source file.
 */
export function packageBuild(entries: string[], overrides: Options = {}) {
  return defineConfig({
    entry: entries,
    format: ["esm"],
    dts: { entry: "src/index.ts" },
    sourcemap: true,
    clean: true,
    target: "node20",
    tsconfig: "tsconfig.build.json",
    ...overrides,
  });
}

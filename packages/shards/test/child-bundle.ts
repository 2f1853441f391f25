import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const PKG = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/**
 * Bundles a source entry of this package for a child process (tests run TypeScript; plain node
 * cannot) and writes `runner` beside it as `<dir>/runner.mjs`, which imports the bundle as
 * `./bundle.mjs`. The bundle lives inside the package's node_modules so it resolves sharp, got …
 * like the package does. Returns the runner's path.
 */
export async function bundleForChild(params: {
  name: string;
  entry: string;
  runner: string;
}): Promise<string> {
  const dir = path.join(PKG, "node_modules", ".cache", params.name);
  fs.mkdirSync(dir, { recursive: true });
  await build({
    entryPoints: [path.join(PKG, params.entry)],
    outfile: path.join(dir, "bundle.mjs"),
    bundle: true,
    platform: "node",
    format: "esm",
    // npm dependencies stay imports; workspace packages (@laion/cli-kit …) are bundled from their
    // sources, like vitest reads them, so the child needs no prior build
    conditions: ["@laion/source"],
    plugins: [
      {
        name: "npm-deps-external",
        setup(b) {
          b.onResolve({ filter: /^[^./]/ }, (args) =>
            args.path.startsWith("@laion/") ? undefined : { path: args.path, external: true },
          );
        },
      },
    ],
    logLevel: "silent",
  });
  const runner = path.join(dir, "runner.mjs");
  fs.writeFileSync(runner, params.runner);
  return runner;
}

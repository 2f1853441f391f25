// tfjs-core's gradient and chained-op registrations (imported by @laion/vq's src/tfjs.ts) are ~600
// ESM files with extensionless imports in a package without "type": "module": Node cannot load them,
// and vite would transform each of them in every test worker (~20 s). The build bundles them into
// dist (tsup `noExternal`); tests and the TypeScript worker loader use the same bundle, made once
// here with esbuild and kept under node_modules/.cache (rebuilt when tfjs-core's version changes).
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { buildSync } from "esbuild";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** The deep imports that src/tfjs.ts makes and this bundle stands for. */
export const TFJS_REGISTRATIONS =
  /^@tensorflow\/tfjs-core\/dist\/(register_all_gradients|public\/chained_ops\/register_all_chained_ops)(\.js)?$/;

/** Path of the bundle (built if missing), one ES module that registers both. */
export function tfjsRegistrationsBundle() {
  const require = createRequire(path.join(root, "packages/vq/package.json"));
  const { version } = require("@tensorflow/tfjs-core/package.json");
  const out = path.join(root, "node_modules/.cache/laion/tfjs-core-registrations-" + version + ".mjs");
  if (fs.existsSync(out)) return out;
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  buildSync({
    stdin: {
      contents: [
        'import "@tensorflow/tfjs-core/dist/register_all_gradients";',
        'import "@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops";',
      ].join("\n"),
      resolveDir: path.join(root, "packages/vq"),
    },
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    outfile: tmp,
    logLevel: "error",
  });
  fs.renameSync(tmp, out); // atomic: parallel test runs may build it at once
  return out;
}

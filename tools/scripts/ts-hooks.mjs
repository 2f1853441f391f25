// Module hooks for ts-loader.mjs: `./x.js` and `./x` imports find `./x.ts` (or `./x/index.ts`),
// and .ts files are stripped of their types by esbuild (tsup's own compiler). tfjs-core's gradient
// and chained-op registrations resolve to one bundle, as in vitest (see tfjs-registrations.mjs).
import { readFile } from "node:fs/promises";
import { pathToFileURL } from "node:url";
import { transform } from "esbuild";
import { TFJS_REGISTRATIONS, tfjsRegistrationsBundle } from "./tfjs-registrations.mjs";

export async function resolve(specifier, context, next) {
  if (TFJS_REGISTRATIONS.test(specifier))
    return { url: pathToFileURL(tfjsRegistrationsBundle()).href, shortCircuit: true };
  try {
    return await next(specifier, context);
  } catch (err) {
    if (!/^(\.|\/|file:)/.test(specifier)) throw err;
    // "./x.js" → "./x.ts"; extensionless "./x" (bundler style) → "./x.ts" or "./x/index.ts"
    const stem = specifier.replace(/\.js$/, "");
    for (const candidate of [`${stem}.ts`, `${stem}/index.ts`]) {
      try {
        return await next(candidate, context);
      } catch {}
    }
    throw err;
  }
}

export async function load(url, context, next) {
  if (!url.endsWith(".ts")) return next(url, context);
  const source = await readFile(new URL(url), "utf8");
  const { code } = await transform(source, {
    loader: "ts",
    format: "esm",
    target: "node20",
    sourcemap: "inline",
    sourcefile: url,
  });
  return { format: "module", source: code, shortCircuit: true };
}

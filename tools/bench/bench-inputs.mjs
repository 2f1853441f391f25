// What the bench scripts read: their flags (node:util parseArgs, typed and checked — an unknown flag or a
// bad number stops the bench naming it, instead of being ignored) and the fixture photos the VQ and
// thread benches train on.
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

/** The repository root (benches read fixtures/ and configs/ from it). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

const camel = (name) => name.replace(/-([a-z])/g, (_, c) => c.toUpperCase());

/** The middle value of `xs` (the upper middle for an even count), as every bench reports its rounds. */
export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Stops the bench with exit code 2 and `message`, as a bad flag does. */
export function fail(message) {
  console.error(`${path.basename(process.argv[1] ?? "bench")}: ${message}`);
  process.exit(2);
}

function convert(name, type, raw) {
  if (type === "number") {
    const n = Number(raw);
    if (raw.trim() === "" || !Number.isFinite(n)) fail(`--${name} must be a number, got "${raw}"`);
    return n;
  }
  if (type === "json") {
    try {
      return JSON.parse(raw);
    } catch (err) {
      fail(`--${name} must be JSON: ${err.message}`);
    }
  }
  return raw;
}

/**
 * The bench's flags: `spec` maps each `--kebab-name` to `{ type: "number" | "string" | "json" | "boolean",
 * default?, check? }`; the result has camelCased keys (`--cpu-steps 2` → `cpuSteps: 2`), the default where a
 * flag is not given. `check(value, flags)` runs once every flag is read and returns what is wrong with the
 * value (the bench then stops naming the flag), or undefined. `positionals: true` also returns the other
 * arguments as `positionals`.
 */
export function benchFlags(spec, { argv = process.argv.slice(2), positionals = false } = {}) {
  const options = Object.fromEntries(
    Object.entries(spec).map(([name, s]) => [name, { type: s.type === "boolean" ? "boolean" : "string" }]),
  );
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: positionals });
  } catch (err) {
    fail(
      `${err.message} (flags: ${Object.keys(spec)
        .map((n) => `--${n}`)
        .join(", ")})`,
    );
  }
  const flags = {};
  for (const [name, s] of Object.entries(spec)) {
    const raw = parsed.values[name];
    flags[camel(name)] =
      raw === undefined ? s.default : s.type === "boolean" ? raw : convert(name, s.type, raw);
  }
  for (const [name, s] of Object.entries(spec)) {
    const problem = s.check?.(flags[camel(name)], flags);
    if (problem) fail(`--${name} ${problem}, got ${flags[camel(name)]}`);
  }
  if (positionals) flags.positionals = parsed.positionals;
  return flags;
}

/** A `check` for counts: "must be a positive integer" unless the value is one. */
export const positiveInteger = (n) =>
  Number.isInteger(n) && n > 0 ? undefined : "must be a positive integer";

/** The real photos under fixtures/images/originals (the JPEGs, in name order), as bytes. */
export async function fixturePhotos() {
  const dir = path.join(ROOT, "fixtures/images/originals");
  const names = (await readdir(dir)).filter((f) => f.endsWith(".jpg")).sort();
  return Promise.all(names.map((f) => readFile(path.join(dir, f)).then((b) => new Uint8Array(b))));
}

/** The photos looped for ever as `{ __key__, jpg }` samples (keys `r<round>/<index>`): a custom trainVQ source. */
export async function* photoSamples(photos) {
  for (let r = 0; ; r++)
    for (let i = 0; i < photos.length; i++) yield { __key__: `r${r}/${i}`, jpg: photos[i] };
}

import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { CliError } from "./cli-error.js";
import { writeFileAtomicSync } from "./write-atomic.js";

/**
 * A run manifest: what a stage was asked (the parameters that change its output) and what it read
 * (input identities), written beside its output. Rerunning compares the new request with it:
 * same → resume or skip, different → refuse (CLIs) or rerun with the old output moved aside (app).
 */

/** A JSON value: parameters are recorded as JSON so the comparison is exact and the file readable. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/**
 * What a stage read: a file or folder by path + size + mtime (a folder by its file count, total size
 * and newest mtime, so adding a photo counts as a change), or an upstream manifest by its digest.
 */
export interface InputIdentity {
  path: string;
  /** "missing" when the path does not exist (recorded, so its later appearance is a change). */
  kind: "file" | "folder" | "missing" | "remote";
  size?: number;
  files?: number;
  mtimeMs?: number;
  /** A folder written by one of our stages: the digest of its run manifests (what was asked, and the result). */
  digest?: string;
}

export interface RunManifest {
  version: 1;
  /** The package that wrote it (`@laion/shards download`), so a stray file is not mistaken for ours. */
  tool: string;
  params: Record<string, JsonValue>;
  inputs: InputIdentity[];
  /** False while the run is in progress or after it was killed; true once its output is whole. */
  complete: boolean;
  started_at: string;
  finished_at?: string;
  /** Package-specific facts about the finished output (shard count, rows, step). */
  result?: Record<string, JsonValue>;
}

/** One way the new request differs from the recorded one: a parameter or an input. */
export interface Difference {
  key: string;
  before: JsonValue | undefined;
  after: JsonValue | undefined;
}

/** The answer each package's `status(output, params)` gives. */
export interface RunStatus {
  /** complete: nothing to do; partial: an earlier run with the same request stopped (resume); changed: the request or an input differs (see differences); missing: nothing there. */
  state: "complete" | "partial" | "changed" | "missing";
  /** One line for logs and summaries: "3/20 shards", "laion_prob 0 → 0.5". */
  detail: string;
  differences?: Difference[];
}

function walk(dir: string, acc: { files: number; size: number; mtimeMs: number }): void {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    // our own bookkeeping (manifests, locks, temp files) must not make an input look changed
    if (entry.name.startsWith(".")) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(full, acc);
    else if (entry.isFile()) {
      const st = fs.statSync(full);
      acc.files++;
      acc.size += st.size;
      acc.mtimeMs = Math.max(acc.mtimeMs, Math.floor(st.mtimeMs));
    }
  }
}

/** Run manifests are dot-files whose name says so (`.download-manifest.json`, `.run-manifest.json`). */
const MANIFEST_NAME = /^\.[\w-]*manifest[\w-]*\.json$/;

/**
 * The digest of a stage output's manifests, without their timestamps: a folder rewritten with the same
 * result (a retry that recovered nothing) keeps its identity, so the stages after it are not redone.
 */
function manifestDigest(dir: string, names: string[]): string {
  const hash = createHash("sha256");
  for (const name of names.sort()) {
    const m = readManifest(path.join(dir, name));
    hash.update(
      JSON.stringify(
        m ? { params: m.params, inputs: m.inputs, complete: m.complete, result: m.result ?? null } : null,
      ),
    );
  }
  return hash.digest("hex").slice(0, 16);
}

/**
 * The identity of an input path: a folder written by one of our stages by its manifests' digest, another
 * folder by its file count, total size and newest mtime, a file by size + mtime; URLs as given.
 */
export function inputIdentity(location: string): InputIdentity {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(location)) return { path: location, kind: "remote" };
  let st: fs.Stats;
  try {
    st = fs.statSync(location);
  } catch {
    return { path: location, kind: "missing" };
  }
  if (st.isDirectory()) {
    const manifests = fs.readdirSync(location).filter((n) => MANIFEST_NAME.test(n));
    if (manifests.length > 0)
      return { path: location, kind: "folder", digest: manifestDigest(location, manifests) };
    const acc = { files: 0, size: 0, mtimeMs: 0 };
    walk(location, acc);
    return { path: location, kind: "folder", files: acc.files, size: acc.size, mtimeMs: acc.mtimeMs };
  }
  return { path: location, kind: "file", size: st.size, mtimeMs: Math.floor(st.mtimeMs) };
}

/** JSON with every object's keys sorted: a setting is the same wherever an older writer put its key. */
const canonical = (v: unknown) =>
  JSON.stringify(v, (_key, x: unknown) =>
    x && typeof x === "object" && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : x,
  );
const same = (a: unknown, b: unknown) => canonical(a) === canonical(b);

function describeInput(i: InputIdentity | undefined): JsonValue | undefined {
  if (!i) return undefined;
  if (i.kind === "missing") return "missing";
  if (i.kind === "remote") return i.path;
  if (i.digest) return `run ${i.digest}`;
  const when = new Date(i.mtimeMs ?? 0).toISOString();
  return i.kind === "folder"
    ? `${i.files} files, ${i.size} bytes, newest ${when}`
    : `${i.size} bytes, ${when}`;
}

/** The differences between a recorded manifest and a new request (parameters first, then inputs). */
export function manifestDifferences(
  recorded: Pick<RunManifest, "params" | "inputs">,
  params: Record<string, JsonValue>,
  inputs: InputIdentity[],
): Difference[] {
  const out: Difference[] = [];
  const keys = [...new Set([...Object.keys(recorded.params), ...Object.keys(params)])];
  for (const key of keys)
    if (!same(recorded.params[key], params[key]))
      out.push({ key, before: recorded.params[key], after: params[key] });
  const before = new Map(recorded.inputs.map((i) => [i.path, i]));
  const after = new Map(inputs.map((i) => [i.path, i]));
  for (const p of new Set([...before.keys(), ...after.keys()])) {
    const a = before.get(p);
    const b = after.get(p);
    if (!same(a, b)) out.push({ key: `input ${p}`, before: describeInput(a), after: describeInput(b) });
  }
  return out;
}

function show(v: JsonValue | undefined): string {
  if (v === undefined || v === null) return "(unset)";
  return typeof v === "string" ? v : JSON.stringify(v);
}

/** "laion_prob 0 → 0.5; image_size 64 → 128" */
export function formatDifferences(diffs: readonly Difference[]): string {
  return diffs.map((d) => `${d.key} ${show(d.before)} → ${show(d.after)}`).join("; ");
}

export function readManifest(file: string): RunManifest | null {
  let raw: string;
  try {
    raw = fs.readFileSync(file, "utf8");
  } catch {
    return null;
  }
  try {
    const m = JSON.parse(raw) as RunManifest;
    return m && m.version === 1 && typeof m.params === "object" ? m : null;
  } catch {
    throw new CliError(`${file} is not a run manifest (invalid JSON): remove it or choose another output`);
  }
}

/** Temp file + rename: a reader sees the old manifest or the new one, never half of one. */
export function writeManifest(file: string, manifest: RunManifest): void {
  writeFileAtomicSync(file, `${JSON.stringify(manifest, null, 2)}\n`);
}

export function newManifest(
  tool: string,
  params: Record<string, JsonValue>,
  inputs: InputIdentity[],
): RunManifest {
  return { version: 1, tool, params, inputs, complete: false, started_at: new Date().toISOString() };
}

/** The manifest-level part of a status: missing / changed (with differences) / partial / complete. */
export function manifestStatus(
  file: string,
  params: Record<string, JsonValue>,
  inputs: InputIdentity[],
): RunStatus & { manifest: RunManifest | null } {
  const manifest = readManifest(file);
  if (!manifest) return { state: "missing", detail: `no ${file}`, manifest };
  const differences = manifestDifferences(manifest, params, inputs);
  if (differences.length > 0)
    return { state: "changed", detail: formatDifferences(differences), differences, manifest };
  if (!manifest.complete)
    return { state: "partial", detail: `an earlier run stopped before the end`, manifest };
  return { state: "complete", detail: "complete", manifest };
}

/**
 * Moves an output aside as `<output>.prev-<n>` (the lowest n not taken) and returns the new path, or
 * null when there is nothing to move. Outputs are never deleted to make room for a new run.
 */
export function moveAside(output: string): string | null {
  if (!fs.existsSync(output)) return null;
  for (let n = 1; ; n++) {
    const target = `${output}.prev-${n}`;
    if (fs.existsSync(target)) continue;
    fs.renameSync(output, target);
    return target;
  }
}

/**
 * Moves several files of one output aside with one shared n (`model.pt.prev-2`, `model.pt.json.prev-2`),
 * so they stay recognisable as one earlier run. Missing paths are skipped; returns the moved ones' new paths.
 */
export function moveAsideAll(paths: readonly string[]): string[] {
  const present = paths.filter((p) => fs.existsSync(p));
  if (present.length === 0) return [];
  let n = 1;
  while (present.some((p) => fs.existsSync(`${p}.prev-${n}`))) n++;
  return present.map((p) => {
    fs.renameSync(p, `${p}.prev-${n}`);
    return `${p}.prev-${n}`;
  });
}

/** The refusal a package CLI gives when rerun on an output made with other output-affecting flags. */
export class OutputChangedError extends CliError {
  constructor(
    readonly output: string,
    readonly differences: readonly Difference[],
    flagNames: Record<string, string> = {},
  ) {
    const lines = differences.map(
      (d) => `  ${flagNames[d.key] ?? d.key}: ${show(d.before)} → ${show(d.after)}`,
    );
    super(
      `${output} was made with other settings:\n${lines.join("\n")}\n` +
        `Rerun with the same settings to resume, add --overwrite to start over (the old output is kept as ${output}.prev-<n>), ` +
        `or choose another output.`,
    );
    this.name = "OutputChangedError";
  }
}

import fs from "node:fs";
import path from "node:path";
import {
  acquireOutputLock,
  type InputIdentity,
  inputIdentity,
  type JsonValue,
  manifestStatus,
  moveAsideAll,
  newManifest,
  OutputChangedError,
  type OutputLock,
  type RunStatus,
  readManifest,
  writeManifest,
} from "@laion/cli-kit";
import { DEFAULT_LAION_PROB, HELD_OUT_SPLIT } from "@laion/mixer";
import { resolveConfig } from "./config.js";
import type { TrainVQParams } from "./train-vq-params.js";
import { optimPath } from "./train-vq-state.js";

/** Beside the checkpoint: what it was trained with (`<out>.manifest.json`). */
export const vqManifestPath = (out: string) => `${out}.manifest.json`;

/**
 * The settings that make a checkpoint what it is: the model (preset + config) and the data (sources,
 * LAION share, seed, held-out split). max_steps is a target (raising it continues the run); the
 * optimizer schedule (lr, batch size) may be changed on --resume, as trainVQ allows; evalEvery, backend
 * and the hooks change nothing learnt.
 */
export function vqManifestParams(p: TrainVQParams): Record<string, JsonValue> {
  return {
    preset: p.preset ?? "demo",
    // resolved: the CLI passes the preset's full config, the library may pass none; same model, same record
    config: resolveConfig(p.config, p.preset) as unknown as JsonValue,
    laion_prob: p.laionTars !== undefined ? (p.laionProb ?? DEFAULT_LAION_PROB) : 0,
    seed: p.seed ?? 0,
    held_out_fraction: p.heldOutFraction ?? 0.05,
    // a checkpoint from another split evaluated on images it trained on: refused, naming the split
    held_out_split: HELD_OUT_SPLIT,
    custom_samples: p.samples !== undefined,
  };
}

/** A resume without --preset/--config continues the checkpoint's model, as trainVQ does: compare with what it recorded. */
function requestFor(
  p: TrainVQParams,
  recorded: Record<string, JsonValue> | undefined,
): Record<string, JsonValue> {
  const params = vqManifestParams(p);
  if (p.resume && recorded) {
    if (p.preset === undefined) params["preset"] = recorded["preset"] ?? params["preset"]!;
    if (p.config === undefined) params["config"] = recorded["config"] ?? null;
  }
  return params;
}

/** The captions file, the image folder and the LAION shards (by their download manifest when there is one). */
export function vqInputs(p: TrainVQParams): InputIdentity[] {
  const tars = p.laionTars === undefined ? [] : Array.isArray(p.laionTars) ? p.laionTars : [p.laionTars];
  return [p.captions, p.imageRoot, ...tars].filter((x): x is string => Boolean(x)).map(inputIdentity);
}

/** The step of the checkpoint at `out` (from its `<out>.json` sidecar), or null. */
export function checkpointStep(out: string): number | null {
  try {
    const step = Number(JSON.parse(fs.readFileSync(`${out}.json`, "utf8")).step);
    return Number.isFinite(step) && fs.existsSync(out) ? step : null;
  } catch {
    return null;
  }
}

/**
 * What `out` holds for this request: complete (trained with these settings and inputs to maxSteps),
 * partial (same settings, short of maxSteps: resume), changed (other settings or inputs, listed), missing.
 */
export function vqStatus(p: TrainVQParams & { maxSteps: number }): RunStatus {
  const m = manifestStatus(vqManifestPath(p.out), vqManifestParams(p), vqInputs(p));
  const step = checkpointStep(p.out);
  if (m.state === "changed") return m;
  if (step === null) return { state: "missing", detail: `no ${p.out} yet` };
  if (m.state === "missing")
    return {
      state: "changed",
      detail: `${p.out} has no run manifest (made by an older version): its settings are unknown`,
      differences: [{ key: "manifest", before: "none", after: vqManifestPath(p.out) }],
    };
  if (step < p.maxSteps) {
    const resumable = fs.existsSync(optimPath(p.out));
    return resumable
      ? { state: "partial", detail: `checkpoint at step ${step}/${p.maxSteps}` }
      : { state: "changed", detail: `checkpoint at step ${step}/${p.maxSteps} without optimizer state` };
  }
  return { state: "complete", detail: `checkpoint at step ${step}/${p.maxSteps}` };
}

/** The files of one VQ run: the checkpoint, its sidecars, and the grids beside it. */
function runFiles(out: string): string[] {
  const dir = path.dirname(out);
  const base = path.basename(out);
  const grids = fs.existsSync(dir)
    ? fs
        .readdirSync(dir)
        .filter((f) => f.startsWith(`${base}.recon-`) && f.endsWith(".png"))
        .map((f) => path.join(dir, f))
    : [];
  // metrics.jsonl beside the checkpoint is this run's too (a fresh run truncates it)
  return [out, `${out}.json`, optimPath(out), vqManifestPath(out), path.join(dir, "metrics.jsonl"), ...grids];
}

/**
 * Claims the checkpoint for this run: the lock (one trainer per output), then the manifest check. A
 * resume must match the recorded settings; a fresh run over a checkpoint made with other settings is
 * refused unless `overwrite`, which keeps the old files as `<file>.prev-<n>`.
 */
export function claimVqOutput(
  p: TrainVQParams & { overwrite?: boolean },
  log: (m: string) => void,
): { lock: OutputLock; finish: (steps: number) => void } {
  const lock = acquireOutputLock(`${p.out}.lock`, { purpose: "train-visual-vq", onLog: log });
  try {
    const recorded = readManifest(vqManifestPath(p.out));
    const params = requestFor(p, recorded?.params);
    const inputs = vqInputs(p);
    const status = manifestStatus(vqManifestPath(p.out), params, inputs);
    if (status.state === "changed") {
      if (!p.overwrite) throw new OutputChangedError(p.out, status.differences ?? [], VQ_FLAGS);
      const kept = moveAsideAll(runFiles(p.out));
      log(`settings changed (${status.detail}); the earlier run is kept as ${kept.join(", ")}`);
    } else if (!recorded && p.overwrite && checkpointStep(p.out) !== null) {
      moveAsideAll(runFiles(p.out));
    }
    const started = { ...newManifest("@laion/vq train", params, inputs) };
    writeManifest(vqManifestPath(p.out), started);
    return {
      lock,
      finish: (steps) =>
        writeManifest(vqManifestPath(p.out), {
          ...started,
          complete: true,
          finished_at: new Date().toISOString(),
          result: { steps },
        }),
    };
  } catch (err) {
    lock.release();
    throw err;
  }
}

const VQ_FLAGS: Record<string, string> = {
  preset: "--preset",
  config: "--config (model: / --image-size / --codebook-size)",
  laion_prob: "--laion-prob",
  seed: "--seed",
  hold_out_percent: "held-out split (session 4 and earlier: FNV-1a per mille of the key)",
  held_out_fraction: "held-out fraction (TrainVQParams.heldOutFraction)",
  held_out_split: "held-out split (the eval set moved to the mixer's split: --overwrite to start over)",
};

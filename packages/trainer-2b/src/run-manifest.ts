import fs from "node:fs";
import path from "node:path";
import {
  acquireOutputLock,
  type InputIdentity,
  inputIdentity,
  type JsonValue,
  manifestStatus,
  moveAside,
  newManifest,
  OutputChangedError,
  type OutputLock,
  type RunStatus,
  readManifest,
  writeManifest,
} from "@laion/cli-kit";
import { HELD_OUT_SPLIT } from "@laion/mixer";
import { findCheckpoint } from "./checkpoint.js";
import type { TrainConfig } from "./config.js";

/** Inside output_dir: what the run there was asked (`.run-manifest.json`). */
export const manifestPath = (outputDir: string) => path.join(outputDir, ".run-manifest.json");

/**
 * The config minus what does not change what is learnt: the output folder, max_steps (a target: raising it
 * continues the run), how often to evaluate and checkpoint, the backend, the threads or devices a step is
 * shared over (the same sums in another rounding: a run resumes on any count, as the VQ's does) and the
 * memory override. The data paths and the VQ checkpoint are inputs (compared by identity, not by name).
 */
export function trainManifestParams(cfg: TrainConfig): Record<string, JsonValue> {
  const {
    max_steps: _max,
    eval_every: _e,
    eval_batches: _b,
    checkpoint_every: _c,
    backend: _k,
    device_memory_gb: _d,
    laion_path,
    vq_checkpoint: _v,
    code_cache_size: _cc,
    report_samples: _rs,
    threads: _t,
    devices: _dv,
    ...training
  } = cfg.training;
  const { corpus: _co, captions: _ca, image_root: _i, ...data } = cfg.data;
  return {
    model: cfg.model as unknown as JsonValue,
    data: data as unknown as JsonValue,
    training: training as unknown as JsonValue,
    laion: laion_path !== null,
    // without LAION its share is 0 whatever laion_prob says
    laion_prob: laion_path !== null ? cfg.training.laion_prob : 0,
    held_out_split: HELD_OUT_SPLIT,
  };
}

/**
 * The params to compare with output_dir's manifest. One written before the split was recorded (session 4
 * and earlier) used this same split (the mixer's took over trainer-2b's formula unchanged), so it is
 * not a difference there.
 */
function requestParams(cfg: TrainConfig): Record<string, JsonValue> {
  const params = trainManifestParams(cfg);
  const recorded = readManifest(manifestPath(cfg.output_dir));
  if (recorded && !("held_out_split" in recorded.params)) delete params["held_out_split"];
  // one written before session 11 recorded threads (and later devices) in its training section:
  // whatever they were, they are not a difference
  const before = recorded?.params["training"];
  if (before && typeof before === "object" && !Array.isArray(before)) {
    const training = { ...(params["training"] as Record<string, JsonValue>) };
    for (const key of ["threads", "devices"]) if (key in before) training[key] = before[key] ?? null;
    params["training"] = training;
  }
  return params;
}

export function trainInputs(cfg: TrainConfig): InputIdentity[] {
  const paths = [
    ...cfg.data.corpus,
    cfg.data.captions,
    cfg.data.image_root,
    cfg.training.vq_checkpoint,
    cfg.training.laion_path,
  ];
  return paths.filter((p): p is string => Boolean(p)).map(inputIdentity);
}

/** The step of the newest checkpoint in output_dir, or null. */
export function lastCheckpointStep(outputDir: string): number | null {
  const dir = findCheckpoint(outputDir);
  if (!dir) return null;
  try {
    const step = JSON.parse(fs.readFileSync(path.join(dir, "state.json"), "utf8")).step;
    return typeof step === "number" ? step : null;
  } catch {
    return null;
  }
}

/**
 * What output_dir holds for this config: complete (trained with it to max_steps, report written), partial
 * (same settings and inputs, an earlier checkpoint: resume), changed (listed differences), or missing.
 */
export function trainStatus(cfg: TrainConfig): RunStatus {
  const out = cfg.output_dir;
  const m = manifestStatus(manifestPath(out), requestParams(cfg), trainInputs(cfg));
  if (m.state === "changed") return m;
  const step = lastCheckpointStep(out);
  if (step === null) return { state: "missing", detail: `no checkpoint in ${out} yet` };
  if (m.state === "missing")
    return {
      state: "changed",
      detail: `${out} has no run manifest (made by an older version): its settings are unknown`,
      differences: [{ key: "manifest", before: "none", after: manifestPath(out) }],
    };
  const max = cfg.training.max_steps;
  if (step >= max && m.state === "complete" && fs.existsSync(path.join(out, "report.html")))
    return {
      state: "complete",
      detail: `checkpoint at step ${step}/${max}, ${path.join(out, "report.html")}`,
    };
  return { state: "partial", detail: `checkpoint at step ${step}/${max}` };
}

/**
 * Claims output_dir: the lock (one trainer per output), then the manifest check. Other settings or inputs
 * are refused unless `overwrite`, which moves the old folder to `<output_dir>.prev-<n>`.
 */
export function claimTrainOutput(
  cfg: TrainConfig,
  overwrite: boolean,
  log: (m: string) => void,
): { lock: OutputLock; finish: (step: number) => void } {
  const out = cfg.output_dir;
  const params = requestParams(cfg);
  const inputs = trainInputs(cfg);
  const lockFile = path.join(out, ".lock");
  let lock = acquireOutputLock(lockFile, { purpose: "train-multimodal", onLog: log });
  try {
    const status = manifestStatus(manifestPath(out), params, inputs);
    const legacy = status.state === "missing" && lastCheckpointStep(out) !== null;
    if (status.state === "changed" || legacy) {
      const differences = status.differences ?? [{ key: "manifest", before: "none", after: "this run's" }];
      if (!overwrite) throw new OutputChangedError(out, differences, TRAIN_FLAGS);
      lock.release();
      const kept = moveAside(out);
      log(`settings or inputs changed (${status.detail}); the earlier run is kept as ${kept}`);
      lock = acquireOutputLock(lockFile, { purpose: "train-multimodal", onLog: log });
    }
  } catch (err) {
    lock.release();
    throw err;
  }
  // the new manifest records the split, also where the old one did not
  const started = newManifest("@laion/trainer-2b train", trainManifestParams(cfg), inputs);
  try {
    writeManifest(manifestPath(out), started);
  } catch (err) {
    lock.release();
    throw err;
  }
  return {
    lock,
    finish: (step) =>
      writeManifest(manifestPath(out), {
        ...started,
        complete: true,
        finished_at: new Date().toISOString(),
        result: { step },
      }),
  };
}

const TRAIN_FLAGS: Record<string, string> = {
  laion_prob: "--laion-prob (training.laion_prob)",
  laion: "--laion-path (training.laion_path)",
  model: "the model section / --preset",
  training: "the training section",
  data: "the data section",
  held_out_split: "the held-out split (a new version of the code: --overwrite to start over)",
};

/** Local paths only: URLs, s3:// and brace patterns are checked when they are read. */
const isLocalPath = (p: string) => !/^[a-z][a-z0-9+.-]*:\/\//i.test(p) && !/[{*?]/.test(p);

/**
 * The inputs of a config that are missing or unreadable, each named by its key ("data.captions:
 * data/explicit_media/captions.json (not found)"). `produced` lists keys an earlier stage will write
 * (the app's VQ checkpoint and LAION shards), which are not required to exist yet.
 */
export function missingInputs(cfg: TrainConfig, produced: readonly string[] = []): string[] {
  const wanted: [string, string | null][] = [
    ...cfg.data.corpus.map((c): [string, string] => ["data.corpus", c]),
    ["data.captions", cfg.data.captions],
    ["data.image_root", cfg.data.image_root],
    ["training.vq_checkpoint", cfg.training.vq_checkpoint],
    ["training.laion_path", cfg.training.laion_path],
  ];
  const problems: string[] = [];
  for (const [key, p] of wanted) {
    if (!p || produced.includes(key) || !isLocalPath(p)) continue;
    try {
      fs.accessSync(p, fs.constants.R_OK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      problems.push(`${key}: ${p} (${code === "ENOENT" ? "not found" : `not readable, ${code}`})`);
    }
  }
  return problems;
}

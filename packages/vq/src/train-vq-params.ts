// What trainVQ (train-vq.ts) is asked, what it reports as it goes and what it returns: the types its
// loop (train-vq-loop.ts), its run manifest and its CLI read too.
import type { BackendName } from "./backend.js";
import type { VQConfig, VQPresetName } from "./config.js";
import type { ImageSample } from "./samples.js";
import type { VQModel } from "./vq-model.js";
import type { VQ_PHASES } from "./vq-step.js";
import type { PhaseProfile } from "./worker-pool.js";

export interface TrainVQParams {
  /** Checkpoint path (safetensors, whatever the extension). Also: `<out>.json`, `<out>.optim.safetensors`, metrics.jsonl and recon grids beside it. */
  out: string;
  /** Architecture overrides on top of `preset` (default "demo"). */
  config?: Partial<VQConfig>;
  preset?: VQPresetName;
  /** captions.json (list of {image, caption} or {path: caption} map) and the folder its paths are relative to. */
  captions?: string;
  imageRoot?: string;
  /** LAION webdataset shards (paths, globs, brace ranges, URLs): an infinite resampled stream. */
  laionTars?: string | string[];
  /** Fraction of samples drawn from LAION when both sources are given. Default 0.5. */
  laionProb?: number;
  /** Custom training source, called once per epoch (used instead of captions/laionTars). */
  samples?: (epoch: number) => AsyncIterable<ImageSample>;
  /** Explicit eval images (any sharp-readable bytes) instead of the held-out split of the source. */
  evalImages?: Uint8Array[];
  /** Images to evaluate on: held-out images from every source, topped up with seeded crops/flips. Default 32. */
  evalCount?: number;
  /**
   * Share of each source's keys held out of training for evaluation: @laion/mixer's `isHeldOut`, salted
   * by the source's name ("local", "laion", "samples"), as trainer-2b's `data.held_out_fraction`. Default 0.05.
   */
  heldOutFraction?: number;
  /** Stop after this many optimizer steps (required with laionTars). */
  maxSteps?: number;
  /** Passes over the local images (ignored with laionTars). Default 1. */
  epochs?: number;
  batchSize?: number;
  lr?: number;
  seed?: number;
  /** Continue from `out` and `<out>.optim.safetensors`. */
  resume?: boolean;
  /** Evaluate + checkpoint every this many steps (and at the end). Default 200. */
  evalEvery?: number;
  backend?: BackendName;
  /**
   * Threads sharing each batch on the wasm backend (each its own wasm instance: one core each;
   * gradients averaged, EMA statistics summed). Default: every core this process may use
   * (availableCores), as in @laion/trainer-2b. Results are reproducible for a given value. Other
   * backends run one thread (GPU and native ones use their own parallelism).
   */
  threads?: number;
  /**
   * Processes sharing each batch, one per device: this process is device 0, each other one a child
   * process pinned to its device (`CUDA_VISIBLE_DEVICES`) with its own backend, the same one as here.
   * Default: the GPUs `nvidia-smi -L` lists when the backend is a GPU one (tfjs-node-gpu, webgpu),
   * else 1. On wasm or cpu, n > 1 runs n processes in place of threads (same shards, same results
   * as `threads` n). Not together with `threads` > 1.
   */
  devices?: number;
  augment?: { scale?: [number, number]; flip?: boolean; colorJitter?: number };
  /**
   * MiB of decoded training images kept for later epochs (least recently used dropped first); 0 decodes
   * every image every time. Crops are the same either way. Default 256 (DEFAULT_DECODE_CACHE_MB).
   */
  decodeCacheMb?: number;
  /** Linear LR warm-up steps; cosine decay to 10 % follows when maxSteps is known. Default min(100, maxSteps/10). */
  warmupSteps?: number;
  onEvent?: (event: TrainVQEvent) => void;
  /** Abort: stops after the current step and writes a checkpoint. */
  signal?: AbortSignal;
  /**
   * `out` holds a checkpoint trained with other settings or inputs (its `<out>.manifest.json` says):
   * keep its files as `<file>.prev-<n>` and start over. Without it such a run is refused, naming the differences.
   */
  overwrite?: boolean;
  /** Notices (a stale lock taken over, an earlier run moved aside). Default stderr. */
  log?: (message: string) => void;
}

export interface EvalMetrics {
  step: number;
  /** Mean per-image PSNR (dB) of reconstructions in [0,1]. */
  psnr: number;
  /** Fraction of codebook entries used on the eval set. */
  usage: number;
  used: number;
  perplexity: number;
  /** Images evaluated (`eval_images`): distinct images plus seeded crops/flips of them. */
  evalImages: number;
  /** Distinct source images behind them, and how many of evalImages are extra seeded crops/flips. */
  evalDistinct: number;
  evalCrops: number;
  /** Distinct eval images per source ("local", "laion", or "samples"/"evalImages"). */
  evalSources: Record<string, number>;
  /** False when too few keys were held out (a tiny folder) and (crops of) training images were used. */
  heldOut: boolean;
  grid: string;
}

export type TrainVQEvent =
  | {
      type: "start";
      backend: string;
      /** Threads or processes sharing each batch (wasm: `threads`, default all cores; `devices` when > 1; else 1). */
      threads: number;
      /** With `devices` > 1: each device's line (describeDevice), device 0 (this process) first. */
      devices?: string[];
      config: VQConfig;
      step: number;
      parameters: number;
      flopsPerImage: number;
      evalImages: number;
      evalDistinct: number;
      evalCrops: number;
      heldOut: boolean;
    }
  | { type: "kmeans"; vectors: number }
  | {
      type: "step";
      step: number;
      epoch: number;
      loss: number;
      reconstruction: number;
      commitment: number;
      imagesPerSecond: number;
      batchUsage: number;
      restarts: number;
      lr: number;
      /** Keys of the samples this step trained on. */
      keys: string[];
    }
  | ({ type: "eval" } & EvalMetrics)
  | { type: "checkpoint"; step: number; path: string }
  | { type: "skip"; key: string; reason: string }
  /** A resumed run fast-forwards (reads, does not decode) the samples its epoch had already trained on. */
  | { type: "replay"; epoch: number; samples: number }
  | { type: "done"; step: number; reason: "max-steps" | "epochs" | "aborted" };

export interface TrainVQResult {
  model: VQModel;
  backend: string;
  steps: number;
  /** Training loss of every step run in this call. */
  losses: number[];
  lastEval: EvalMetrics | undefined;
  imagesPerSecond: number;
  out: string;
  metricsPath: string;
  /** With threads or devices > 1: where the data-parallel steps' time went (tools/bench/threads.bench.mjs). */
  profile?: PhaseProfile<(typeof VQ_PHASES)[number]>;
}

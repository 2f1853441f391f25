import { appendFile, mkdir, readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { prefetch } from "@laion/mixer";
import * as tf from "@tensorflow/tfjs";
import { type BackendName, currentBackend, selectBackend } from "./backend.js";
import { PRESET_LR, resolveConfig, type VQConfig, type VQPresetName, validateConfig } from "./config.js";
import {
  type Batch,
  decodeImages,
  evalSources,
  type ImageSample,
  imageBatches,
  trainingSource,
} from "./data.js";
import { buildEvalSet, type EvalSet } from "./eval-set.js";
import { reconstructionGrid } from "./images.js";
import { decoderForward, encoderForward, forwardFlops } from "./model.js";
import {
  codeUsage,
  emaUpdate,
  isInitialised,
  kmeansInit,
  l2Normalize,
  quantizeStraightThrough,
} from "./quantizer.js";
import { Rng } from "./rng.js";
import { loadSafetensors, type SafeTensor, saveSafetensors } from "./safetensors.js";
import { saveVQ, sidecarPath, VQ, type VQModel } from "./vq-model.js";

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
  /** Percent of keys held out of training (by key hash) for evaluation. Default 5. */
  holdOutPercent?: number;
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
  augment?: { scale?: [number, number]; flip?: boolean; colorJitter?: number };
  /** Linear LR warm-up steps; cosine decay to 10 % follows when maxSteps is known. Default min(100, maxSteps/10). */
  warmupSteps?: number;
  onEvent?: (event: TrainVQEvent) => void;
  /** Abort: stops after the current step and writes a checkpoint. */
  signal?: AbortSignal;
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
}

interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

export const optimPath = (out: string) => `${out}.optim.safetensors`;

/** Where a run stands in its data, saved with the optimizer state so `--resume` continues the same stream. */
interface DataPosition {
  epoch: number;
  /** The step the epoch's source was opened at (its seed argument is `epoch + sourceStep`). */
  sourceStep: number;
  /** The epoch's augmentation RNG state at its start. */
  augment: string;
  /** Samples of the epoch consumed by trained batches. */
  offset: number;
}

/** The saved position, or undefined for checkpoints written before positions were saved (they re-seed). */
function parseDataPosition(raw: string | undefined, epoch: number): DataPosition | undefined {
  if (raw === undefined) return undefined;
  const d = JSON.parse(raw) as Partial<DataPosition>;
  const ok =
    Number.isInteger(d.epoch) &&
    Number.isInteger(d.sourceStep) &&
    Number.isInteger(d.offset) &&
    typeof d.augment === "string";
  if (!ok) throw new Error(`--resume: the optimizer state's data position is malformed: ${raw}`);
  return d.epoch === epoch ? (d as DataPosition) : undefined;
}

function validate(params: TrainVQParams): void {
  if (!params.out) throw new Error("--out is required");
  if (params.laionTars !== undefined && params.maxSteps === undefined) {
    throw new Error("--laion-tars streams LAION forever (resampled), so --max-steps is required with it");
  }
  if (!params.samples && !params.captions && !params.laionTars) {
    throw new Error("no training data: give --captions (with --image-root) and/or --laion-tars");
  }
  const positive = {
    maxSteps: params.maxSteps,
    epochs: params.epochs,
    batchSize: params.batchSize,
    evalEvery: params.evalEvery,
  };
  for (const [k, v] of Object.entries(positive)) {
    if (v !== undefined && !(Number.isInteger(v) && v > 0))
      throw new Error(`${k} must be a positive integer, got ${v}`);
  }
  if (params.lr !== undefined && !(params.lr > 0 && params.lr < 1))
    throw new Error(`lr must be in (0, 1), got ${params.lr}`);
  if (params.laionProb !== undefined && !(params.laionProb >= 0 && params.laionProb <= 1)) {
    throw new Error(`laionProb must be in [0, 1], got ${params.laionProb}`);
  }
}

function psnr(a: Float32Array, b: Float32Array, n: number): number {
  const per = a.length / n;
  let total = 0;
  for (let i = 0; i < n; i++) {
    let se = 0;
    for (let j = i * per; j < (i + 1) * per; j++) se += ((a[j] as number) - (b[j] as number)) ** 2;
    total += 10 * Math.log10(1 / Math.max(se / per, 1e-10));
  }
  return total / n;
}

/**
 * Train a VQ tokenizer. Emits events through `onEvent`; writes the checkpoint (+ optimizer state,
 * metrics.jsonl, reconstruction grids) at every eval and at the end; resumable with `resume`.
 */
export async function trainVQ(params: TrainVQParams): Promise<TrainVQResult> {
  validate(params);
  const emit = params.onEvent ?? (() => {});
  const backend = params.backend
    ? (await selectBackend({ prefer: params.backend })).name
    : (currentBackend() ?? (await selectBackend()).name);
  const seed = params.seed ?? 0;
  const batchSize = params.batchSize ?? 16;
  const evalEvery = params.evalEvery ?? 200;
  const out = params.out;
  const outDir = path.dirname(path.resolve(out));
  await mkdir(outDir, { recursive: true });
  const metricsPath = path.join(outDir, "metrics.jsonl");

  // --- model, optimizer, resume ---
  let config: VQConfig = resolveConfig(params.config, params.preset);
  let step = 0;
  let rng = new Rng(seed);
  let resumeEpoch = 0;
  let resumeData: DataPosition | undefined;
  let resumeTensors: Record<string, SafeTensor> | undefined;
  let resumeOptim: Record<string, SafeTensor> | undefined;
  let resumeLr: number | undefined;
  if (params.resume) {
    try {
      await stat(out);
    } catch {
      throw new Error(`--resume: no checkpoint at ${out}`);
    }
    const ckpt = await loadSafetensors(out);
    const optim = await loadSafetensors(optimPath(out)).catch((err: Error) => {
      throw new Error(`--resume: cannot read optimizer state ${optimPath(out)}: ${err.message}`);
    });
    if (ckpt.metadata.step !== optim.metadata.step) {
      throw new Error(
        `--resume: ${out} is at step ${ckpt.metadata.step} but ${optimPath(out)} at step ${optim.metadata.step}`,
      );
    }
    config = validateConfig(
      JSON.parse(ckpt.metadata.config ?? (await readFile(sidecarPath(out), "utf8"))) as VQConfig,
    );
    step = Number(optim.metadata.step);
    resumeEpoch = Number(optim.metadata.epoch ?? 0) || 0;
    resumeData = parseDataPosition(optim.metadata.data, resumeEpoch);
    resumeLr = optim.metadata.lr === undefined ? undefined : Number(optim.metadata.lr);
    rng = Rng.fromState(String(optim.metadata.rng));
    resumeTensors = ckpt.tensors;
    resumeOptim = optim.tensors;
  }
  // a resumed run keeps the schedule it was started with unless told otherwise
  const lr = params.lr ?? resumeLr ?? PRESET_LR[params.preset ?? "demo"];
  const model = VQ.create(config, seed);
  if (resumeTensors) model.assignTensors(resumeTensors, out);
  const optimizer = tf.train.adam(lr);
  const vars = model.trainable();
  const names = Object.keys(model.params).sort();
  if (resumeOptim) await restoreOptimizer(optimizer, resumeOptim, names, vars, optimPath(out));

  // --- data ---
  const S = config.imageSize;
  const holdOut = params.holdOutPercent ?? 5;
  const evalCount = params.evalCount ?? 32;
  const dataParams = {
    captions: params.captions,
    imageRoot: params.imageRoot,
    laionTars: params.laionTars,
    laionProb: params.laionProb,
    seed,
  };
  let evalSet: EvalSet;
  if (params.evalImages) {
    const n = params.evalImages.length;
    evalSet = {
      images: await decodeImages(params.evalImages, S),
      n,
      keys: params.evalImages.map((_, i) => `eval/${i}`),
      distinct: n,
      crops: 0,
      heldOut: true,
      perSource: { evalImages: n },
    };
  } else {
    const custom = params.samples;
    evalSet = await buildEvalSet({
      sources: custom
        ? [{ name: "samples", share: 1, samples: async () => custom(0) }]
        : evalSources(dataParams),
      count: evalCount,
      imageSize: S,
      holdOutPercent: holdOut,
      seed,
    });
    if (evalSet.n === 0) throw new Error("no decodable images to evaluate on in the training data");
  }
  const heldOut = evalSet.heldOut;
  const parameters = vars.reduce((a, v) => a + v.size, 0);
  emit({
    type: "start",
    backend,
    config,
    step,
    parameters,
    flopsPerImage: forwardFlops(config),
    evalImages: evalSet.n,
    evalDistinct: evalSet.distinct,
    evalCrops: evalSet.crops,
    heldOut,
  });
  if (!params.resume) await writeFile(metricsPath, "");

  const maxSteps = params.maxSteps;
  const warmup = params.warmupSteps ?? Math.min(100, Math.floor((maxSteps ?? 1000) / 10));
  const lrAt = (s: number) => {
    if (s < warmup) return (lr * (s + 1)) / warmup;
    if (maxSteps === undefined) return lr;
    const t = Math.min(1, (s - warmup) / Math.max(1, maxSteps - warmup));
    return lr * (0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI * t)));
  };

  const D = config.codeDim;
  const g = model.gridSize;
  const losses: number[] = [];
  let lastLoss = { loss: Number.NaN, reconstruction: Number.NaN, commitment: Number.NaN };
  let images = 0;
  let trainMs = 0;
  let lastEval: EvalMetrics | undefined;
  let lastSaved = -1;

  const trainStep = (batch: Batch) => {
    const x = tf.tensor4d(batch.images, [batch.n, S, S, 3]);
    let z: tf.Tensor2D | undefined;
    let idx: tf.Tensor1D | undefined;
    let rec: tf.Scalar | undefined;
    let com: tf.Scalar | undefined;
    let qConst: tf.Tensor | undefined;
    (optimizer as unknown as { learningRate: number }).learningRate = lrAt(step);
    const { value, grads } = tf.variableGrads(() => {
      const zn = l2Normalize(tf.reshape(encoderForward(model.params, config, x), [-1, D])) as tf.Tensor2D;
      const { st, codes, q } = quantizeStraightThrough(zn, model.quant.codebook as tf.Tensor2D);
      const zq = tf.reshape(st, [batch.n, g, g, D]) as tf.Tensor4D;
      const recon = decoderForward(model.params, config, zq);
      const r = tf.mean(tf.squaredDifference(recon, tf.sub(tf.mul(x, 2), 1))) as tf.Scalar;
      const c = tf.mean(tf.squaredDifference(zn, q)) as tf.Scalar;
      z = tf.keep(zn);
      idx = codes;
      qConst = q;
      rec = tf.keep(r);
      com = tf.keep(c);
      return tf.add(r, tf.mul(c, config.commitment)) as tf.Scalar;
    }, vars);
    optimizer.applyGradients(grads as Parameters<typeof optimizer.applyGradients>[0]);
    tf.dispose(grads);
    const restarts = emaUpdate(model.quant, z as tf.Tensor2D, idx as tf.Tensor1D, {
      decay: config.emaDecay,
      restartAfter: config.restartAfter,
      rng,
    });
    const result = {
      loss: value.dataSync()[0] as number,
      reconstruction: (rec as tf.Scalar).dataSync()[0] as number,
      commitment: (com as tf.Scalar).dataSync()[0] as number,
      usage: codeUsage((idx as tf.Tensor1D).dataSync() as Int32Array, config.codebookSize).usage,
      restarts,
    };
    tf.dispose([x, value, z, idx, rec, com, qConst]);
    return result;
  };

  const evaluate = async (): Promise<EvalMetrics> => {
    const codes = model.encode(evalSet.images, evalSet.n);
    const recon = model.decode(codes, evalSet.n);
    const usage = codeUsage(codes, config.codebookSize);
    const shown = Math.min(8, evalSet.n);
    const grid = path.join(outDir, `${path.basename(out)}.recon-${String(step).padStart(6, "0")}.png`);
    await writeFile(
      grid,
      await reconstructionGrid({
        originals: evalSet.images.subarray(0, shown * S * S * 3),
        reconstructions: recon.subarray(0, shown * S * S * 3),
        n: shown,
        size: S,
      }),
    );
    const m: EvalMetrics = {
      step,
      psnr: psnr(recon, evalSet.images, evalSet.n),
      usage: usage.usage,
      used: usage.used,
      perplexity: usage.perplexity,
      evalImages: evalSet.n,
      evalDistinct: evalSet.distinct,
      evalCrops: evalSet.crops,
      evalSources: evalSet.perSource,
      heldOut,
      grid,
    };
    const line = {
      ...m,
      time: new Date().toISOString(),
      loss: lastLoss.loss,
      reconstruction: lastLoss.reconstruction,
      commitment: lastLoss.commitment,
      codebookSize: config.codebookSize,
      imagesPerSecond: trainMs > 0 ? (images * 1000) / trainMs : 0,
      backend,
    };
    await appendFile(metricsPath, `${JSON.stringify(line)}\n`);
    emit({ type: "eval", ...m });
    return m;
  };

  // where the data stream stands: the epoch's source arguments and augmentation seed, and how many of
  // its samples the trained batches took (a resumed run replays the epoch up to there)
  let position: DataPosition = { epoch: resumeEpoch, sourceStep: 0, augment: "", offset: 0 };
  const checkpoint = async (epoch: number) => {
    if (lastSaved === step || step === 0) return;
    const meta: Record<string, string | number> = { step, epoch, seed, lr, rng: rng.getState(), backend };
    // past the last epoch there is no stream to stand in
    if (position.epoch === epoch && position.augment) meta.data = JSON.stringify(position);
    await saveOptimizer(optimizer, optimPath(out), names, model.params, meta);
    await saveVQ(model, out, meta);
    lastSaved = step;
    emit({ type: "checkpoint", step, path: out });
  };

  // --- loop ---
  let reason: "max-steps" | "epochs" | "aborted" = "epochs";
  // LAION resamples forever; local images alone repeat (freshly augmented) until --max-steps when no
  // --epochs is given, so a 14-image folder trains as long as asked
  const epochs =
    params.laionTars || (params.epochs === undefined && maxSteps !== undefined)
      ? Number.POSITIVE_INFINITY
      : (params.epochs ?? 1);
  // a resumed run continues in the epoch it stopped in (that epoch's order is drawn afresh)
  let epoch = resumeEpoch;
  const startStep = step;
  // batches waiting for the k-means init; kept across epochs, since a small folder may not give
  // 2 vectors per code in one pass
  let pendingInit: Batch[] = [];
  let t0 = performance.now();
  const batchEpoch = new WeakMap<Batch, number>();
  const initCodebook = () => {
    const vectors = pendingInit.reduce((a, b) => a + b.n, 0) * model.tokensPerImage;
    const z = tf.tidy(
      () =>
        tf.concat(
          pendingInit.map((b) => model.features(tf.tensor4d(b.images, [b.n, S, S, 3]))),
        ) as tf.Tensor2D,
    );
    kmeansInit(model.quant, z, { rng, batches: pendingInit.length });
    z.dispose();
    emit({ type: "kmeans", vectors });
    const queued = pendingInit;
    pendingInit = [];
    return queued;
  };
  /** Train one batch; true when the run must stop. */
  const runStep = async (b: Batch, ep: number): Promise<boolean> => {
    const r = trainStep(b);
    if (ep === position.epoch && batchEpoch.get(b) === ep) position = { ...position, offset: b.offset };
    const t1 = performance.now();
    trainMs += t1 - t0;
    images += b.n;
    step++;
    losses.push(r.loss);
    lastLoss = r;
    emit({
      type: "step",
      step,
      epoch: ep,
      loss: r.loss,
      reconstruction: r.reconstruction,
      commitment: r.commitment,
      imagesPerSecond: (images * 1000) / trainMs,
      batchUsage: r.usage,
      restarts: r.restarts,
      lr: lrAt(step - 1),
      keys: b.keys,
    });
    if (step % evalEvery === 0) {
      lastEval = await evaluate();
      await checkpoint(ep);
    }
    t0 = performance.now();
    if (maxSteps !== undefined && step >= maxSteps) {
      reason = "max-steps";
      return true;
    }
    if (params.signal?.aborted) {
      reason = "aborted";
      return true;
    }
    return false;
  };
  if (maxSteps !== undefined && step >= maxSteps) reason = "max-steps";
  else {
    outer: for (; epoch < epochs; epoch++) {
      // the epoch the checkpoint stopped in is rebuilt exactly as it was, then fast-forwarded
      const replay = epoch === resumeEpoch && resumeData?.epoch === epoch ? resumeData : undefined;
      const sourceStep = replay?.sourceStep ?? step;
      const augment = replay ? Rng.fromState(replay.augment) : rng.fork(epoch + step * 7919);
      position = { epoch, sourceStep, augment: augment.getState(), offset: replay?.offset ?? 0 };
      if (replay && replay.offset > 0) emit({ type: "replay", epoch, samples: replay.offset });
      const source = params.samples
        ? params.samples(epoch)
        : await trainingSource({ ...dataParams, epoch: epoch + sourceStep });
      const batches = imageBatches(source, {
        batchSize,
        imageSize: S,
        skip: replay?.offset ?? 0,
        augment: {
          rng: augment,
          scale: params.augment?.scale,
          flip: params.augment?.flip ?? true,
          colorJitter: params.augment?.colorJitter ?? 0,
        },
        holdOutPercent: heldOut && !params.evalImages ? holdOut : 0,
        onSkip: (key, why) => emit({ type: "skip", key, reason: why }),
      });
      let batchesThisEpoch = 0;
      t0 = performance.now();
      // decode the next batch (sharp's thread pool) while this one trains
      for await (const batch of prefetch<Batch>(1)(batches)) {
        batchesThisEpoch++;
        batchEpoch.set(batch, epoch);
        let todo: Batch[] = [batch];
        if (!isInitialised(model.quant)) {
          // k-means init from real encoder outputs: wait for ≥ 2 vectors per code (at most 8 batches)
          pendingInit.push(batch);
          const vectors = pendingInit.reduce((a, b) => a + b.n, 0) * model.tokensPerImage;
          if (vectors < 2 * config.codebookSize && pendingInit.length < 8) continue;
          todo = initCodebook();
        }
        for (const b of todo) if (await runStep(b, epoch)) break outer;
      }
      if (batchesThisEpoch === 0) {
        throw new Error(
          `epoch ${epoch} yielded no decodable training images (all held out, missing or undecodable)`,
        );
      }
    }
    // the epochs ran out before the warm-up queue was full: initialise from what there is
    if (reason === "epochs" && pendingInit.length > 0) {
      for (const b of initCodebook()) if (await runStep(b, Math.max(0, epoch - 1))) break;
    }
  }
  if (step > startStep && lastEval?.step !== step) lastEval = await evaluate();
  await checkpoint(Math.min(epoch, Number.MAX_SAFE_INTEGER));
  emit({ type: "done", step, reason });
  return {
    model,
    backend,
    steps: step,
    losses,
    lastEval,
    imagesPerSecond: trainMs > 0 ? (images * 1000) / trainMs : 0,
    out,
    metricsPath,
  };
}

async function saveOptimizer(
  optimizer: tf.AdamOptimizer,
  file: string,
  names: string[],
  params: Record<string, tf.Variable>,
  meta: Record<string, string | number>,
): Promise<void> {
  const weights = await optimizer.getWeights();
  const n = names.length;
  if (weights.length !== 1 + 2 * n)
    throw new Error(`optimizer has ${weights.length - 1} slots for ${n} parameters`);
  const tensors: Record<string, SafeTensor> = {
    "adam.iterations": {
      dtype: "I32",
      shape: [],
      data: Int32Array.from(weights[0]?.tensor.dataSync() ?? [0]),
    },
  };
  names.forEach((name, i) => {
    const m = (weights[1 + i] as NamedTensor).tensor;
    const v = (weights[1 + n + i] as NamedTensor).tensor;
    const shape = (params[name] as tf.Variable).shape;
    tensors[`adam.m.${name}`] = { dtype: "F32", shape, data: m.dataSync() as Float32Array };
    tensors[`adam.v.${name}`] = { dtype: "F32", shape, data: v.dataSync() as Float32Array };
  });
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(meta)) metadata[k] = String(v);
  await saveSafetensors(file, tensors, metadata);
}

async function restoreOptimizer(
  optimizer: tf.AdamOptimizer,
  tensors: Record<string, SafeTensor>,
  names: string[],
  vars: tf.Variable[],
  file: string,
): Promise<void> {
  const it = tensors["adam.iterations"];
  if (!it) throw new Error(`${file}: missing tensor "adam.iterations"`);
  const slot = (kind: "m" | "v", name: string, v: tf.Variable): NamedTensor => {
    const t = tensors[`adam.${kind}.${name}`];
    if (!t) throw new Error(`${file}: missing tensor "adam.${kind}.${name}"`);
    if (t.shape.join(",") !== v.shape.join(",")) {
      throw new Error(
        `${file}: tensor "adam.${kind}.${name}" has shape [${t.shape}] but the model needs [${v.shape}]`,
      );
    }
    return { name: `${v.name}/${kind}`, tensor: tf.tensor(t.data as Float32Array, v.shape) };
  };
  await optimizer.setWeights([
    { name: "iter", tensor: tf.scalar((it.data as Int32Array)[0] ?? 0, "int32") },
    ...names.map((name, i) => slot("m", name, vars[i] as tf.Variable)),
    ...names.map((name, i) => slot("v", name, vars[i] as tf.Variable)),
  ]);
}

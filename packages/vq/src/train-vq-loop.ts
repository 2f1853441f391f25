// The training loop of trainVQ, as named steps over one run's state: run → epoch → step, with
// evaluate and checkpoint. trainVQ (train-vq.ts) builds the model, optimizer and eval set and hands
// them over here.
import { appendFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { isResumable, prefetch, Random, type Resumable } from "@laion/mixer";
import type { VQConfig } from "./config.js";
import { type Batch, type DataParams, imageBatches, trainingSource } from "./data.js";
import { DEFAULT_CROP_SCALE, DEFAULT_DECODE_CACHE_MB, DecodedCache, decodedSide } from "./decoded-images.js";
import type { EvalSet } from "./eval-set.js";
import { reconstructionGrid } from "./images.js";
import { codeUsage, isInitialised, kmeansInit } from "./quantizer.js";
import { trainingSide } from "./samples.js";
import * as tf from "./tfjs.js";
import type { EvalMetrics, TrainVQEvent, TrainVQParams, TrainVQResult } from "./train-vq-params.js";
import { type DataPosition, optimPath, saveOptimizer } from "./train-vq-state.js";
import { saveVQ, type VQ } from "./vq-model.js";
import { type DataParallelVQ, type StepLoss, type StepResult, singleStep } from "./vq-step.js";

/** What trainVQ has set up before the first step. */
export interface VQRunSetup {
  params: TrainVQParams;
  emit: (event: TrainVQEvent) => void;
  backend: string;
  config: VQConfig;
  model: VQ;
  optimizer: tf.AdamOptimizer;
  /** Worker threads sharing each batch (wasm: one core each); undefined = this thread alone. */
  parallel: DataParallelVQ | undefined;
  /** Parameter names (sorted) and their variables, in the optimizer's order. */
  names: string[];
  vars: tf.Variable[];
  outDir: string;
  metricsPath: string;
  evalSet: EvalSet;
  data: DataParams;
  seed: number;
  lr: number;
  batchSize: number;
  evalEvery: number;
  heldOutFraction: number;
  /** Fresh (seeded) or restored from the checkpoint. */
  rng: Random;
  step: number;
  /** The epoch the checkpoint stopped in, and where in its stream (undefined: re-seed the epoch). */
  resumeEpoch: number;
  resumeData: DataPosition | undefined;
}

type StopReason = "max-steps" | "epochs" | "aborted";

export class VQRun {
  private step: number;
  private readonly startStep: number;
  private readonly losses: number[] = [];
  private lastLoss: StepLoss = { loss: Number.NaN, reconstruction: Number.NaN, commitment: Number.NaN };
  private images = 0;
  private trainMs = 0;
  private t0 = performance.now();
  private lastEval: EvalMetrics | undefined;
  private lastSaved = -1;
  private reason: StopReason = "epochs";
  private epoch: number;
  // where the data stream stands: the epoch's source arguments and augmentation seed, and how many of
  // its samples the trained batches took (a resumed run replays the epoch up to there)
  private position: DataPosition;
  // batches waiting for the k-means init; kept across epochs, since a small folder may not give
  // 2 vectors per code in one pass
  private pendingInit: Batch[] = [];
  private readonly batchEpoch = new WeakMap<Batch, number>();
  private readonly warmup: number;
  // the training images, decoded once for every epoch
  private readonly decoded: DecodedCache;

  constructor(private readonly s: VQRunSetup) {
    const minScale = (s.params.augment?.scale ?? DEFAULT_CROP_SCALE)[0];
    this.decoded = new DecodedCache(
      decodedSide(s.config.imageSize, minScale),
      (s.params.decodeCacheMb ?? DEFAULT_DECODE_CACHE_MB) * 2 ** 20,
    );
    this.step = s.step;
    this.startStep = s.step;
    this.epoch = s.resumeEpoch;
    this.position = { epoch: s.resumeEpoch, sourceStep: 0, augment: "", offset: 0 };
    const maxSteps = s.params.maxSteps;
    this.warmup = s.params.warmupSteps ?? Math.min(100, Math.floor((maxSteps ?? 1000) / 10));
  }

  /** Linear warm-up, then cosine decay to 10 % when maxSteps is known. */
  private lrAt(step: number): number {
    const { lr } = this.s;
    const maxSteps = this.s.params.maxSteps;
    if (step < this.warmup) return (lr * (step + 1)) / this.warmup;
    if (maxSteps === undefined) return lr;
    const t = Math.min(1, (step - this.warmup) / Math.max(1, maxSteps - this.warmup));
    return lr * (0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI * t)));
  }

  /** Epochs until a stop rule fires, then a last eval + checkpoint. */
  async run(): Promise<TrainVQResult> {
    const { params } = this.s;
    const maxSteps = params.maxSteps;
    // LAION resamples forever; local images alone repeat (freshly augmented) until --max-steps when no
    // --epochs is given, so a 14-image folder trains as long as asked
    const epochs =
      params.laionTars || (params.epochs === undefined && maxSteps !== undefined)
        ? Number.POSITIVE_INFINITY
        : (params.epochs ?? 1);
    if (maxSteps !== undefined && this.step >= maxSteps) this.reason = "max-steps";
    else {
      // a resumed run continues in the epoch it stopped in
      for (; this.epoch < epochs; this.epoch++) if (await this.runEpoch(this.epoch)) break;
      // the epochs ran out before the warm-up queue was full: initialise from what there is
      if (this.reason === "epochs" && this.pendingInit.length > 0) {
        for (const b of await this.initCodebook())
          if (await this.runStep(b, Math.max(0, this.epoch - 1))) break;
      }
    }
    if (this.step > this.startStep && this.lastEval?.step !== this.step)
      this.lastEval = await this.evaluate();
    // a resume with nothing left to do leaves the checkpoint as it is: rewriting it would make the
    // stages that read it (the model's training) see a changed input
    if (this.step > this.startStep || this.startStep === 0)
      await this.checkpoint(Math.min(this.epoch, Number.MAX_SAFE_INTEGER));
    this.s.emit({ type: "done", step: this.step, reason: this.reason });
    return {
      model: this.s.model,
      backend: this.s.backend,
      steps: this.step,
      losses: this.losses,
      lastEval: this.lastEval,
      imagesPerSecond: this.imagesPerSecond(),
      out: this.s.params.out,
      metricsPath: this.s.metricsPath,
    };
  }

  private imagesPerSecond(): number {
    return this.trainMs > 0 ? (this.images * 1000) / this.trainMs : 0;
  }

  /** One pass over the epoch's source; true when the run must stop. */
  private async runEpoch(epoch: number): Promise<boolean> {
    const s = this.s;
    const params = s.params;
    // the epoch the checkpoint stopped in is rebuilt exactly as it was, then fast-forwarded
    const replay = epoch === s.resumeEpoch && s.resumeData?.epoch === epoch ? s.resumeData : undefined;
    const sourceStep = replay?.sourceStep ?? this.step;
    // the eval set's keys stay out of training, unless it had to be drawn from all images
    const heldOutFraction = s.evalSet.heldOut && !params.evalImages ? s.heldOutFraction : 0;
    const source = params.samples
      ? trainingSide(params.samples(epoch), "samples", heldOutFraction)
      : await trainingSource({ ...s.data, epoch: epoch + sourceStep, heldOutFraction });
    // A Resumable source with a saved state seeks there (nothing read twice); others replay `offset` samples.
    const seek = replay?.source !== undefined && replay.augmentAt !== undefined && isResumable(source);
    if (seek) (source as Resumable).restore(replay.source);
    const augment = replay
      ? Random.fromState(seek ? (replay.augmentAt as string) : replay.augment)
      : s.rng.fork(epoch + this.step * 7919);
    this.position = { epoch, sourceStep, augment: augment.getState(), offset: replay?.offset ?? 0 };
    if (replay && !seek && replay.offset > 0) s.emit({ type: "replay", epoch, samples: replay.offset });
    const batches = imageBatches(source, {
      batchSize: s.batchSize,
      imageSize: s.config.imageSize,
      skip: seek ? 0 : (replay?.offset ?? 0),
      decoded: this.decoded,
      augment: {
        rng: augment,
        scale: params.augment?.scale,
        flip: params.augment?.flip ?? true,
        colorJitter: params.augment?.colorJitter ?? 0,
      },
      onSkip: (key, why) => s.emit({ type: "skip", key, reason: why }),
    });
    let batchesThisEpoch = 0;
    this.t0 = performance.now();
    // decode the next batch (sharp's thread pool) while this one trains
    for await (const batch of prefetch<Batch>(1)(batches)) {
      batchesThisEpoch++;
      this.batchEpoch.set(batch, epoch);
      let todo: Batch[] = [batch];
      if (!(await isInitialised(s.model.quant))) {
        // k-means init from real encoder outputs: wait for ≥ 2 vectors per code (at most 8 batches)
        this.pendingInit.push(batch);
        const vectors = this.pendingInit.reduce((a, b) => a + b.n, 0) * s.model.tokensPerImage;
        if (vectors < 2 * s.config.codebookSize && this.pendingInit.length < 8) continue;
        todo = await this.initCodebook();
      }
      for (const b of todo) if (await this.runStep(b, epoch)) return true;
    }
    if (batchesThisEpoch === 0) {
      throw new Error(
        `epoch ${epoch} yielded no decodable training images (all held out, missing or undecodable)`,
      );
    }
    return false;
  }

  /** Train one batch, then eval/checkpoint when due; true when the run must stop. */
  private async runStep(b: Batch, epoch: number): Promise<boolean> {
    const { params, emit } = this.s;
    const r = await this.trainStep(b);
    if (epoch === this.position.epoch && this.batchEpoch.get(b) === epoch)
      this.position = {
        ...this.position,
        offset: b.offset,
        ...(b.sourceState !== undefined ? { source: b.sourceState, augmentAt: b.augmentState } : {}),
      };
    const t1 = performance.now();
    this.trainMs += t1 - this.t0;
    this.images += b.n;
    this.step++;
    this.losses.push(r.loss);
    this.lastLoss = r;
    emit({
      type: "step",
      step: this.step,
      epoch,
      loss: r.loss,
      reconstruction: r.reconstruction,
      commitment: r.commitment,
      imagesPerSecond: (this.images * 1000) / this.trainMs,
      batchUsage: r.usage,
      restarts: r.restarts,
      lr: this.lrAt(this.step - 1),
      keys: b.keys,
    });
    if (this.step % this.s.evalEvery === 0) {
      this.lastEval = await this.evaluate();
      await this.checkpoint(epoch);
    }
    this.t0 = performance.now();
    if (params.maxSteps !== undefined && this.step >= params.maxSteps) {
      this.reason = "max-steps";
      return true;
    }
    if (params.signal?.aborted) {
      this.reason = "aborted";
      return true;
    }
    return false;
  }

  /** Forward, straight-through quantiser, Adam step, EMA codebook update (on one thread or sharded). */
  private async trainStep(batch: Batch): Promise<StepResult> {
    const { model, optimizer, rng, parallel } = this.s;
    (optimizer as unknown as { learningRate: number }).learningRate = this.lrAt(this.step);
    const ctx = { model, optimizer, rng };
    return parallel ? parallel.step(ctx, batch.images, batch.n) : singleStep(ctx, batch.images, batch.n);
  }

  /** k-means init of the codebook from the queued batches' encoder outputs; returns them to train on. */
  private async initCodebook(): Promise<Batch[]> {
    const { model, config } = this.s;
    const S = config.imageSize;
    const queued = this.pendingInit;
    const vectors = queued.reduce((a, b) => a + b.n, 0) * model.tokensPerImage;
    const z = tf.tidy(
      () =>
        tf.concat(queued.map((b) => model.features(tf.tensor4d(b.images, [b.n, S, S, 3])))) as tf.Tensor2D,
    );
    await kmeansInit(model.quant, z, { rng: this.s.rng, batches: queued.length });
    z.dispose();
    this.s.emit({ type: "kmeans", vectors });
    this.pendingInit = [];
    return queued;
  }

  /** PSNR and codebook usage on the eval set, a reconstruction grid, and a metrics.jsonl line. */
  private async evaluate(): Promise<EvalMetrics> {
    const { model, config, evalSet, outDir } = this.s;
    const S = config.imageSize;
    const out = this.s.params.out;
    const codes = await model.encode(evalSet.images, evalSet.n);
    const recon = await model.decode(codes, evalSet.n);
    const usage = codeUsage(codes, config.codebookSize);
    const shown = Math.min(8, evalSet.n);
    const grid = path.join(outDir, `${path.basename(out)}.recon-${String(this.step).padStart(6, "0")}.png`);
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
      step: this.step,
      psnr: psnr(recon, evalSet.images, evalSet.n),
      usage: usage.usage,
      used: usage.used,
      perplexity: usage.perplexity,
      evalImages: evalSet.n,
      evalDistinct: evalSet.distinct,
      evalCrops: evalSet.crops,
      evalSources: evalSet.perSource,
      heldOut: evalSet.heldOut,
      grid,
    };
    const line = {
      ...m,
      time: new Date().toISOString(),
      loss: this.lastLoss.loss,
      reconstruction: this.lastLoss.reconstruction,
      commitment: this.lastLoss.commitment,
      codebookSize: config.codebookSize,
      imagesPerSecond: this.imagesPerSecond(),
      backend: this.s.backend,
    };
    await appendFile(this.s.metricsPath, `${JSON.stringify(line)}\n`);
    this.s.emit({ type: "eval", ...m });
    return m;
  }

  /** Weights, optimizer slots, RNG and data position, once per step. */
  private async checkpoint(epoch: number): Promise<void> {
    const { model, optimizer, names, seed, lr, backend } = this.s;
    const out = this.s.params.out;
    if (this.lastSaved === this.step || this.step === 0) return;
    const meta: Record<string, string | number> = {
      step: this.step,
      epoch,
      seed,
      lr,
      rng: this.s.rng.getState(),
      backend,
    };
    // past the last epoch there is no stream to stand in
    if (this.position.epoch === epoch && this.position.augment) meta.data = JSON.stringify(this.position);
    await saveOptimizer(optimizer, optimPath(out), names, model.params, meta);
    await saveVQ(model, out, meta);
    this.lastSaved = this.step;
    this.s.emit({ type: "checkpoint", step: this.step, path: out });
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

import type { Random } from "@laion/mixer";
import type { BackendName } from "./backend.js";
import { readAllInto, readInto, stepBuffer } from "./host-buffers.js";
import { releaseSpooled } from "./ipc-spool.js";
import { decoderForward, encoderForward } from "./model.js";
import { codeUsage, emaUpdate, l2Normalize, quantizeStraightThrough } from "./quantizer.js";
// The VQ training objective and one optimizer step, on one thread or data-parallel over helpers: worker
// threads (wasm, one core each) or child processes (one per device).
// Data-parallel: the batch is split into contiguous shards, each thread computes its shard's gradients
// on its own wasm instance, the main thread averages them (weighted by shard size: each loss is a mean
// over its shard, so the weighted mean is the full batch's gradient), takes the Adam step, and updates
// the EMA codebook from all shards' vectors concatenated in batch order — the statistics summed over
// threads, exactly as one thread would have them.
import * as tf from "./tfjs.js";
import type { VQ } from "./vq-model.js";
import {
  addStep,
  type HelperKind,
  type PhaseProfile,
  phaseClock,
  phaseProfile,
  shardBounds,
  type WorkerClient,
  WorkerPool,
  workerEntry,
} from "./worker-pool.js";

export interface StepLoss {
  loss: number;
  reconstruction: number;
  commitment: number;
}
export type StepResult = StepLoss & { usage: number; restarts: number };

/**
 * Build the objective on images x [n,S,S,3] in [0,1] (call inside variableGrads): reconstruction MSE
 * against x in [-1,1] + β·commitment. Keeps the unit features z and their codes for the EMA update.
 */
function objective(model: VQ, x: tf.Tensor4D) {
  const { config } = model;
  const D = config.codeDim;
  const g = model.gridSize;
  const n = x.shape[0];
  const zn = l2Normalize(tf.reshape(encoderForward(model.params, config, x), [-1, D])) as tf.Tensor2D;
  const { st, codes, q } = quantizeStraightThrough(zn, model.quant.codebook as tf.Tensor2D);
  const recon = decoderForward(model.params, config, tf.reshape(st, [n, g, g, D]) as tf.Tensor4D);
  const rec = tf.mean(tf.squaredDifference(recon, tf.sub(tf.mul(x, 2), 1))) as tf.Scalar;
  const com = tf.mean(tf.squaredDifference(zn, q)) as tf.Scalar;
  // q (kept by the quantiser) is an input of com's gradient: the caller disposes it after the step
  return { value: tf.add(rec, tf.mul(com, config.commitment)) as tf.Scalar, rec, com, z: zn, codes, q };
}

/** The objective's gradients on images [n,S,S,3] and the tensors kept for the EMA update and the logs (caller disposes all). */
function gradients(model: VQ, images: Float32Array, n: number) {
  const S = model.config.imageSize;
  const x = tf.tensor4d(images, [n, S, S, 3]);
  let kept: tf.Tensor[] = [];
  const { value, grads } = tf.variableGrads(() => {
    const o = objective(model, x);
    kept = [tf.keep(o.rec), tf.keep(o.com), tf.keep(o.z), o.codes, o.q];
    return o.value;
  }, model.trainable());
  const [rec, com, z, codes, q] = kept as [tf.Scalar, tf.Scalar, tf.Tensor2D, tf.Tensor1D, tf.Tensor];
  return { x, value, grads, rec, com, z, codes, q };
}

/** Gradients (flat, in `model.trainable()` order) and EMA inputs of one shard, read to the host. */
export interface ShardResult extends StepLoss {
  n: number;
  grads: Float32Array;
  z: Float32Array;
  codes: Int32Array;
  /** Wall and CPU ms this thread or process spent on the shard (gradients and reading them back). */
  wallMs: number;
  cpuMs: number;
}

/** The shard's gradients, flat; written into `out` when given (a buffer reused every step). */
export async function shardGradients(
  model: VQ,
  images: Float32Array,
  n: number,
  out?: Float32Array,
): Promise<ShardResult> {
  const clock = phaseClock();
  const vars = model.trainable();
  const { x, value, grads, rec, com, z, codes, q } = gradients(model, images, n);
  const flat = out ?? new Float32Array(vars.reduce((a, v) => a + v.size, 0));
  let offset = 0;
  for (const v of vars) {
    await readInto(tf, grads[v.name] as tf.Tensor, flat, offset);
    offset += v.size;
  }
  const result: ShardResult = {
    n,
    grads: flat,
    loss: (await value.data())[0] as number,
    reconstruction: (await rec.data())[0] as number,
    commitment: (await com.data())[0] as number,
    z: (await z.data()) as Float32Array,
    codes: (await codes.data()) as Int32Array,
    wallMs: 0,
    cpuMs: 0,
  };
  tf.dispose([x, value, rec, com, z, codes, q, ...Object.values(grads)]);
  return { ...result, ...clock.lap() };
}

/** What a step needs besides the batch: the optimizer (learning rate already set) and the restart RNG. */
export interface StepContext {
  model: VQ;
  optimizer: tf.Optimizer;
  rng: Random;
}

async function ema(ctx: StepContext, z: tf.Tensor2D, codes: tf.Tensor1D): Promise<number> {
  const { config } = ctx.model;
  return emaUpdate(ctx.model.quant, z, codes, {
    decay: config.emaDecay,
    restartAfter: config.restartAfter,
    rng: ctx.rng,
  });
}

/** One thread, everything on the backend: forward, gradients, Adam step, EMA update. */
export async function singleStep(ctx: StepContext, images: Float32Array, n: number): Promise<StepResult> {
  const { model, optimizer } = ctx;
  const { x, value, grads, rec, com, z, codes, q } = gradients(model, images, n);
  optimizer.applyGradients(grads);
  tf.dispose(grads);
  const restarts = await ema(ctx, z, codes);
  const result = {
    loss: (await value.data())[0] as number,
    reconstruction: (await rec.data())[0] as number,
    commitment: (await com.data())[0] as number,
    usage: codeUsage((await codes.data()) as Int32Array, model.config.codebookSize).usage,
    restarts,
  };
  tf.dispose([x, value, rec, com, z, codes, q]);
  return result;
}

/** The phases of a data-parallel VQ step on the main thread. */
export const VQ_PHASES = ["broadcast", "local", "wait", "reduce", "ema"] as const;

/** How DataParallelVQ's helpers run: worker threads on wasm, or child processes pinned to devices 1…n-1. */
export interface HelperOptions {
  kind?: HelperKind;
  /** The backend each helper loads (default wasm); a process helper on a GPU backend loads it on its own device. */
  backend?: BackendName;
}

/**
 * This thread plus `threads - 1` helpers (worker threads, or child processes one per device), each
 * with its own backend and model copy.
 */
export class DataParallelVQ {
  /** Time per phase, for tools/bench/threads.bench.mjs. */
  readonly profile: PhaseProfile<(typeof VQ_PHASES)[number]> & { seen: number } = phaseProfile(VQ_PHASES);

  // reused every step (host-buffers.ts): the weights and codebook sent, each helper's gradients, their sum
  private buffers:
    | { weights: Float32Array; codebook: Float32Array; grads: Float32Array[]; sum: Float32Array }
    | undefined;

  private constructor(private readonly pool: WorkerPool) {}

  private buffersFor(model: VQ) {
    if (!this.buffers) {
      const total = model.trainable().reduce((a, v) => a + v.size, 0);
      this.buffers = {
        weights: stepBuffer(total, this.pool.kind),
        codebook: stepBuffer(model.quant.codebook.size, this.pool.kind),
        // a process helper allocates its own and sends them back
        grads: this.pool.kind === "thread" ? this.pool.workers.map(() => stepBuffer(total)) : [],
        sum: new Float32Array(total),
      };
    }
    return this.buffers;
  }

  get threads(): number {
    return this.pool.threads;
  }

  static start(model: VQ, threads: number, options: HelperOptions = {}): DataParallelVQ {
    const entry = workerEntry(import.meta.url, "vq-worker");
    // worker threads run wasm; device processes the backend they are given
    const backend = options.kind === "process" ? (options.backend ?? "wasm") : "wasm";
    const init = { type: "init", config: model.config, backend };
    return new DataParallelVQ(new WorkerPool(entry, threads, init, options.kind));
  }

  /** Each helper's device line (describeDevice), helper 1 first, once they have started. */
  async devices(): Promise<string[]> {
    return (await this.pool.ready()) as string[];
  }

  /** The helpers (for their labels and, on process helpers, their pids). */
  get helpers(): readonly WorkerClient[] {
    return this.pool.workers;
  }

  /** One optimizer step over the batch, split across the threads. */
  async step(ctx: StepContext, images: Float32Array, n: number): Promise<StepResult> {
    await this.pool.ready();
    const clock = phaseClock();
    const { model, optimizer } = ctx;
    const vars = model.trainable();
    const per = images.length / n;
    const bounds = shardBounds(n, this.threads);
    const buf = this.buffersFor(model);
    // every helper gets this step's weights and codebook (the EMA moved it since the last step)
    const { weights, codebook } = buf;
    await readAllInto(tf, vars, weights);
    await readInto(tf, model.quant.codebook, codebook);
    const remote = await this.pool.postStep<ShardResult>(
      { weights, codebook },
      buf.grads,
      bounds.slice(1).map(([a, b]) => ({ images: images.slice(a * per, b * per), n: b - a })),
    );
    const broadcast = clock.lap();
    const [a0, b0] = bounds[0] as [number, number];
    const local = await shardGradients(model, images.subarray(a0 * per, b0 * per), b0 - a0, buf.sum);
    // gradient of the batch mean = Σ (n_i / n) · gradient of shard i's mean, summed in place over this
    // thread's own: its term (0 + w·g, as from a zeroed sum) while the helpers finish
    const sum = buf.sum;
    const w0 = local.n / n;
    for (let j = 0; j < sum.length; j++) sum[j] = w0 * (sum[j] as number);
    const localLap = clock.lap();
    const shards = [local, ...(await Promise.all(remote))];
    const wait = clock.lap();

    const total: StepLoss = { loss: 0, reconstruction: 0, commitment: 0 };
    for (const [k, s] of shards.entries()) {
      const w = s.n / n;
      if (k > 0) {
        for (let j = 0; j < sum.length; j++) (sum[j] as number) += w * (s.grads[j] as number);
        // a process's gradients: their memory takes its next step's (ipc-spool.ts)
        releaseSpooled(s.grads);
      }
      total.loss += w * s.loss;
      total.reconstruction += w * s.reconstruction;
      total.commitment += w * s.commitment;
    }
    const grads: Record<string, tf.Tensor> = {};
    let offset = 0;
    for (const v of vars) {
      grads[v.name] = tf.tensor(sum.subarray(offset, offset + v.size), v.shape);
      offset += v.size;
    }
    optimizer.applyGradients(grads);
    tf.dispose(Object.values(grads));
    const reduce = clock.lap();

    const D = model.config.codeDim;
    const zAll = concat(
      shards.map((s) => s.z),
      Float32Array,
    );
    const codesAll = concat(
      shards.map((s) => s.codes),
      Int32Array,
    );
    const z = tf.tensor2d(zAll, [zAll.length / D, D]);
    const codes = tf.tensor1d(codesAll, "int32");
    const restarts = await ema(ctx, z, codes);
    tf.dispose([z, codes]);
    const emaLap = clock.lap();
    // the first PROFILE_WARMUP_STEPS steps are not counted (kernel compiles, wasm heap growth, tier-up)
    addStep(this.profile, { broadcast, local: localLap, wait, reduce, ema: emaLap }, shards.slice(1));
    return { ...total, usage: codeUsage(codesAll, model.config.codebookSize).usage, restarts };
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}

function concat<T extends Float32Array | Int32Array>(parts: T[], Ctor: new (n: number) => T): T {
  const out = new Ctor(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

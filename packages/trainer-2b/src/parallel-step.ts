// Data-parallel optimizer steps over helpers: worker threads (tfjs-backend-wasm is single-threaded in
// Node, so a second core needs a second wasm instance) or child processes, one per device (a GPU
// each). The step's M micro-batches are shared out whole when there are at least as many as threads (full-size matmuls, and a 1-row micro-batch — batch_size 1 ×
// grad_accum 64 — still parallelises); with fewer, each micro-batch's rows are split into contiguous
// shards. Each thread returns Σ_m (W_mh / W_m) / M · ∇L_mh over its pieces (W = the micro-batch's
// loss-weight sum, L = its weighted mean loss), which summed over threads is exactly the mean
// micro-batch gradient one thread computes. Worker threads then share the optimizer step too: each
// sums, clips and updates its range of the flat shared buffers (flat-adamw.ts); with child processes
// (one GPU each) clip and AdamW run once, as tensor ops on the main process's device.

import {
  addStep,
  assignFrom,
  type BackendName,
  type HelperKind,
  heapView,
  type Lap,
  type PhaseProfile,
  phaseClock,
  phaseProfile,
  readAllInto,
  releaseSpooled,
  shardBounds,
  stepBuffer,
  WorkerPool,
  workerEntry,
} from "@laion/vq";
import type * as TF from "@tensorflow/tfjs-core";
import { type FlatHeld, type FlatOp, type FlatState, flatLayout, runFlatOp } from "./flat-adamw.js";
import type { ModelConfig, Transformer } from "./model.js";
import { type AdamW, clipScale } from "./optim.js";
import type { Batch } from "./sequences.js";
import {
  applyStep,
  finishStats,
  type LossStats,
  type LossWeights,
  microGradients,
  type OptimizerStep,
  type StepResult,
  statsOf,
  tokenWeights,
} from "./train-step.js";

const paramCount = (model: Transformer) => [...model.params.values()].reduce((a, v) => a + v.size, 0);

/** Rows [a, b) of a batch. */
export function sliceRows(batch: Batch, a: number, b: number): Batch {
  const { T } = batch;
  const rows = <A extends Int32Array | Float32Array | Uint8Array>(x: A) => x.subarray(a * T, b * T) as A;
  return {
    ...batch,
    B: b - a,
    inputs: rows(batch.inputs),
    targets: rows(batch.targets),
    docIds: rows(batch.docIds),
    lossMask: rows(batch.lossMask),
    sourceIdx: rows(batch.sourceIdx),
    modality: rows(batch.modality),
  };
}

/** Which rows of which micro-batch each thread computes: [thread][piece] = { m, a, b } (rows [a, b) of micro-batch m). */
export function shareWork(rows: number[], threads: number): { m: number; a: number; b: number }[][] {
  const out: { m: number; a: number; b: number }[][] = Array.from({ length: threads }, () => []);
  if (rows.length >= threads) {
    // whole micro-batches: contiguous runs of them, sizes differing by at most one
    shardBounds(rows.length, threads).forEach(([first, end], h) => {
      for (let m = first; m < end; m++) out[h]!.push({ m, a: 0, b: rows[m]! });
    });
  } else {
    rows.forEach((B, m) => {
      shardBounds(B, threads).forEach(([a, b], h) => {
        out[h]!.push({ m, a, b });
      });
    });
  }
  return out;
}

/** One thread's work: its row slices of the micro-batches, each with the scale of its gradient. */
export interface ShardTask {
  micro: { m: number; batch: Batch; scale: number }[];
  lossWeights: LossWeights;
}
export interface ShardAnswer {
  /** Σ scale · gradient, flat in the model's parameter order. */
  grads: Float32Array;
  /** Per shard (same order as the task): per-token CE and the shard's weighted mean loss. */
  ce: Float32Array[];
  objective: number[];
  /** Wall and CPU ms this thread or process spent on its gradients (forward + backward + reading them back). */
  wallMs: number;
  cpuMs: number;
}

/** One thread's Σ scale · gradient, flat; accumulated into `out` (zeroed first) when given, a buffer reused every step. */
export async function shardGradients(
  model: Transformer,
  task: ShardTask,
  out?: Float32Array,
): Promise<ShardAnswer> {
  const clock = phaseClock();
  const tf = model.tf;
  const vars = [...model.params.values()];
  const flat = out?.fill(0) ?? new Float32Array(vars.reduce((a, v) => a + v.size, 0));
  const ce: Float32Array[] = [];
  const objective: number[] = [];
  for (const { batch, scale } of task.micro) {
    const r = await microGradients(model, batch, task.lossWeights);
    let offset = 0;
    for (const v of vars) {
      const grad = r.grads[v.name]; // none for frozen parameters: their share stays 0
      // on wasm a view of the heap, summed at once (no await between: see heapView)
      const g = grad ? (heapView(tf, grad) ?? ((await grad.data()) as Float32Array)) : new Float32Array(0);
      for (let j = 0; j < g.length; j++) flat[offset + j]! += scale * g[j]!;
      offset += v.size;
    }
    tf.dispose(Object.values(r.grads));
    ce.push(r.ce);
    objective.push(r.objective);
  }
  return { grads: flat, ce, objective, ...clock.lap() };
}

/**
 * The phases of a data-parallel step on the main thread: reading the weights and posting them with
 * the tasks, its own share of the gradients, waiting for the helpers, summing their gradients into
 * tensors, clip + AdamW + statistics.
 */
export const TRAINER_PHASES = ["broadcast", "local", "wait", "reduce", "apply"] as const;
export type StepProfile = PhaseProfile<(typeof TRAINER_PHASES)[number]>;

/**
 * This thread plus `threads - 1` helpers (worker threads, or child processes one per device), each
 * with its own backend and model copy.
 */
export class DataParallelTrainer {
  /** Time per phase, for tools/bench/threads.bench.mjs. */
  readonly profile: StepProfile & { seen: number } = phaseProfile(TRAINER_PHASES);

  // reused every step (vq's host-buffers): the weights sent, each helper's gradients, this thread's
  private buffers: { weights: Float32Array; grads: Float32Array[]; local: Float32Array } | undefined;
  // the model last stepped, whose size the buffers were checked against
  private sized: Transformer | undefined;
  // worker threads: the optimizer whose moments the flat buffers hold, and where each parameter sits
  private held: (FlatHeld & { opt: AdamW }) | undefined;

  private constructor(private readonly pool: WorkerPool) {}

  private buffersFor(model: Transformer) {
    if (!this.buffers) {
      const total = paramCount(model);
      this.buffers = {
        weights: stepBuffer(total, this.pool.kind),
        // a process helper allocates its own and sends them back
        grads: this.pool.kind === "thread" ? this.pool.workers.map(() => stepBuffer(total)) : [],
        local: stepBuffer(total, this.pool.kind),
      };
    }
    if (this.sized !== model) {
      if (this.buffers.weights.length !== paramCount(model))
        throw new Error("DataParallelTrainer: a trainer steps models of one size only");
      this.sized = model;
    }
    return this.buffers;
  }

  /**
   * Worker threads: the flat shared state of the optimizer step, taken over from `opt` (weights from
   * the model, moments from the optimizer) the first time it is stepped; from then on the buffers
   * hold the truth and the model's variables are refreshed from them after every step.
   */
  private async holdState(model: Transformer, opt: AdamW) {
    const buf = this.buffersFor(model);
    if (this.held?.opt === opt) return this.held;
    await readAllInto(model.tf, model.params.values(), buf.weights);
    const n = buf.weights.length;
    const state: FlatState = {
      weights: buf.weights,
      // fresh for each optimizer: an earlier one still reads its moments where it left them
      m: stepBuffer(n),
      v: stepBuffer(n),
      grads: [buf.local, ...buf.grads],
    };
    await opt.holdIn(state);
    const layout = flatLayout(model.params);
    await Promise.all(this.pool.workers.map((w) => w.call({ type: "hold", state, layout })));
    this.held = { opt, state, layout };
    return this.held;
  }

  get threads(): number {
    return this.pool.threads;
  }

  /** Helpers on `kind` "process" are pinned to devices 1…threads-1 and load `backend` (default wasm). */
  static start(
    cfg: ModelConfig,
    threads: number,
    options: { kind?: HelperKind; backend?: BackendName } = {},
  ): DataParallelTrainer {
    const entry = workerEntry(import.meta.url, "grad-worker");
    const init = { type: "init", cfg, backend: options.backend ?? "wasm" };
    return new DataParallelTrainer(new WorkerPool(entry, threads, init, options.kind));
  }

  /** Each device's line, device 0 (this process, described by `here`) first, once the helpers have started. */
  async devices(here: string): Promise<string[]> {
    const lines = (await this.pool.ready()) as string[];
    return [
      `device 0 (this process ${process.pid}, CUDA_VISIBLE_DEVICES=${process.env.CUDA_VISIBLE_DEVICES}): ${here}`,
      ...lines.map((d, i) => `${this.pool.workers[i]?.label}: ${d}`),
    ];
  }

  async step(params: OptimizerStep): Promise<StepResult> {
    await this.pool.ready();
    const { model, micro, lossWeights } = params;
    const clock = phaseClock();
    const tasks = shardTasks(micro, lossWeights, this.threads);
    const buf = this.buffersFor(model);
    const { weights } = buf;
    // worker threads: the shared buffer holds the weights already; a process gets a copy every step
    const held = this.pool.kind === "thread" ? await this.holdState(model, params.opt) : undefined;
    if (!held) await readAllInto(model.tf, model.params.values(), weights);
    const remote = await this.pool.postStep<ShardAnswer>(
      { weights },
      buf.grads,
      tasks.slice(1).map((task) => ({ task })),
    );
    const broadcast = clock.lap();
    const local = await shardGradients(model, tasks[0]!, buf.local);
    const localLap = clock.lap();
    const answers = [local, ...(await Promise.all(remote))];
    const wait = clock.lap();
    const parts = statistics(micro, tasks, answers);
    let result: StepResult;
    let reduce: Lap;
    if (held) {
      // the gradients summed, and the optimizer step, each thread over its range of the parameters
      const squares = await this.everyThread(held, { type: "reduce" });
      const norm = Math.sqrt(squares.reduce((x, y) => x + y, 0));
      reduce = clock.lap();
      const hyper = params.opt.nextUpdate(params.lr, clipScale(norm, params.gradClip));
      await this.everyThread(held, { type: "adam", hyper });
      // the model's variables from the weights the shared step updated
      assignFrom(model.tf, model.params.values(), weights);
      result = { ...finishStats(parts), gradNorm: norm, lr: params.lr };
    } else {
      const grads = sumToTensors(model, answers);
      reduce = clock.lap();
      result = await applyStep(params, grads, parts);
    }
    // the first PROFILE_WARMUP_STEPS steps are not counted (kernel compiles, wasm heap growth, tier-up)
    const laps: Record<(typeof TRAINER_PHASES)[number], Lap> = {
      broadcast,
      local: localLap,
      wait,
      reduce,
      apply: clock.lap(),
    };
    addStep(this.profile, laps, answers.slice(1));
    return result;
  }

  /** One pass over the flat buffers by ranges: the helpers' posted first, this thread's run meanwhile; values in thread order. */
  private async everyThread(held: FlatHeld, op: FlatOp): Promise<number[]> {
    const ranges = shardBounds(held.state.weights.length, this.threads);
    const remote = this.pool.workers.map((w, i) => {
      const [from, to] = ranges[i + 1] ?? [0, 0];
      return w.call<number>({ ...op, from, to });
    });
    const [from, to] = ranges[0]!;
    return [runFlatOp(held, op, from, to), ...(await Promise.all(remote))];
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}

/** Each thread's rows of the micro-batches, each piece with its share of the micro-batch's loss weight. */
function shardTasks(micro: Batch[], lossWeights: LossWeights, threads: number): ShardTask[] {
  const totals = micro.map((batch) => tokenWeights(batch, lossWeights).sum);
  return shareWork(
    micro.map((b) => b.B),
    threads,
  ).map((pieces) => ({
    lossWeights,
    micro: pieces.map(({ m, a, b }) => {
      const rows = a === 0 && b === micro[m]!.B ? micro[m]! : sliceRows(micro[m]!, a, b);
      const part = tokenWeights(rows, lossWeights).sum;
      return { m, batch: rows, scale: totals[m]! > 0 ? part / totals[m]! / micro.length : 0 };
    }),
  }));
}

/** The threads' (or processes') gradients summed into the first's buffer, as tensors by parameter name. */
function sumToTensors(model: Transformer, answers: ShardAnswer[]): Record<string, TF.Tensor> {
  const sum = answers[0]!.grads;
  for (const a of answers.slice(1)) {
    for (let j = 0; j < sum.length; j++) sum[j]! += a.grads[j]!;
    // a process's gradients: their memory takes its next step's (vq's ipc-spool)
    releaseSpooled(a.grads);
  }
  const grads: Record<string, TF.Tensor> = {};
  let offset = 0;
  for (const [name, v] of model.params) {
    grads[name] = model.tf.tensor(sum.subarray(offset, offset + v.size), v.shape);
    offset += v.size;
  }
  return grads;
}

/** Each micro-batch's CE reassembled in row order, and its loss as the shards' weighted mean. */
function statistics(micro: Batch[], tasks: ShardTask[], answers: ShardAnswer[]): LossStats[] {
  return micro.map((batch, m) => {
    const ce = new Float32Array(batch.B * batch.T);
    let at = 0;
    let objective = 0;
    tasks.forEach((task, h) => {
      task.micro.forEach((s, k) => {
        if (s.m !== m) return;
        const part = answers[h]!.ce[k]!;
        ce.set(part, at);
        at += part.length;
        // scale = (W_mh / W_m) / M: undo the 1/M to weight this micro-batch's own mean
        objective += s.scale * micro.length * answers[h]!.objective[k]!;
      });
    });
    return statsOf(batch, ce, objective);
  });
}

// Data-parallel optimizer steps over worker threads (tfjs-backend-wasm is single-threaded in Node, so
// a second core needs a second wasm instance). Each micro-batch's rows are split into contiguous
// shards; each thread returns Σ_m (W_mh / W_m) / M · ∇L_mh over its shards (W = the micro-batch's
// loss-weight sum, L = its weighted mean loss), which summed over threads is exactly the mean
// micro-batch gradient one thread computes. Clip and AdamW then run once, on the main thread.

import { shardBounds, WorkerPool, workerEntry } from "@laion/vq";
import type * as TF from "@tensorflow/tfjs";
import type { ModelConfig, Transformer } from "./model.js";
import type { Batch } from "./sequences.js";
import {
  applyStep,
  type LossStats,
  type LossWeights,
  microGradients,
  type OptimizerStep,
  type StepResult,
  statsOf,
  tokenWeights,
} from "./train-step.js";

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
}

export async function shardGradients(model: Transformer, task: ShardTask): Promise<ShardAnswer> {
  const tf = model.tf;
  const vars = [...model.params.values()];
  const flat = new Float32Array(vars.reduce((a, v) => a + v.size, 0));
  const ce: Float32Array[] = [];
  const objective: number[] = [];
  for (const { batch, scale } of task.micro) {
    const r = await microGradients(model, batch, task.lossWeights);
    let offset = 0;
    for (const v of vars) {
      const g = (await r.grads[v.name]!.data()) as Float32Array;
      for (let j = 0; j < g.length; j++) flat[offset + j]! += scale * g[j]!;
      offset += v.size;
    }
    tf.dispose(Object.values(r.grads));
    ce.push(r.ce);
    objective.push(r.objective);
  }
  return { grads: flat, ce, objective };
}

/** The main thread plus `threads - 1` workers, each with its own wasm backend and model copy. */
export class DataParallelTrainer {
  private constructor(private readonly pool: WorkerPool) {}

  get threads(): number {
    return this.pool.threads;
  }

  static start(cfg: ModelConfig, threads: number): DataParallelTrainer {
    const entry = workerEntry(import.meta.url, "grad-worker");
    return new DataParallelTrainer(new WorkerPool(entry, threads, { type: "init", cfg }));
  }

  async step(params: OptimizerStep): Promise<StepResult> {
    await this.pool.ready();
    const { model, micro, lossWeights } = params;
    const tf = model.tf;
    const tasks: ShardTask[] = Array.from({ length: this.threads }, () => ({ micro: [], lossWeights }));
    micro.forEach((batch, m) => {
      const total = tokenWeights(batch, lossWeights).sum;
      shardBounds(batch.B, this.threads).forEach(([a, b], h) => {
        const rows = sliceRows(batch, a, b);
        const part = tokenWeights(rows, lossWeights).sum;
        tasks[h]!.micro.push({ m, batch: rows, scale: total > 0 ? part / total / micro.length : 0 });
      });
    });
    const vars = [...model.params.values()];
    const weights = new Float32Array(vars.reduce((a, v) => a + v.size, 0));
    let offset = 0;
    for (const v of vars) {
      weights.set((await v.data()) as Float32Array, offset);
      offset += v.size;
    }
    const remote = this.pool.workers.map((w, i) =>
      w.call<ShardAnswer>({ type: "step", weights, task: tasks[i + 1] }),
    );
    const answers = [await shardGradients(model, tasks[0]!), ...(await Promise.all(remote))];

    const sum = new Float32Array(weights.length);
    for (const a of answers) for (let j = 0; j < sum.length; j++) sum[j]! += a.grads[j]!;
    const grads: Record<string, TF.Tensor> = {};
    offset = 0;
    for (const [name, v] of model.params) {
      grads[name] = tf.tensor(sum.subarray(offset, offset + v.size), v.shape);
      offset += v.size;
    }
    return applyStep(params, grads, statistics(micro, tasks, answers));
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
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

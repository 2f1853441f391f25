// The training loop of trainMultimodal as named steps over one run: step (a gradient-accumulated
// optimizer step and its metrics record), eval + report, checkpoint. train.ts sets up the model,
// optimizer and data position and hands them over here.
import fs from "node:fs";
import path from "node:path";
import { writeFileAtomicSync } from "@laion/cli-kit";
import { textOf } from "@laion/shards";
import { saveCheckpoint } from "./checkpoint.js";
import type { TrainConfig } from "./config.js";
import {
  activeSources,
  createTrainStream,
  type DataState,
  heldOutBatches,
  type ImageCoder,
  type TrainStream,
} from "./data.js";
import { generate } from "./generate.js";
import type { ModelConfig, Transformer } from "./model.js";
import { type AdamW, lrAt } from "./optim.js";
import type { DataParallelTrainer } from "./parallel-step.js";
import { type MetricRecord, type ReportSample, readMetrics, renderReport, writeReport } from "./report.js";
import { loadSampleSections } from "./report-samples.js";
import type { Batch } from "./sequences.js";
import type { Tokenizer } from "./tokenizer.js";
import { evaluate, type LossStats, type LossWeights, trainStep } from "./train-step.js";
import { UnigramBaseline } from "./unigram-baseline.js";
import type { Vocab } from "./vocab.js";

/** What trainMultimodal has set up before the first step. */
export interface MultimodalRunSetup {
  cfg: TrainConfig;
  log: (message: string) => void;
  /** The preflight's plan text, shown in the report. */
  planText: string;
  /** Parameter count, for the FLOP/s figure. */
  paramCount: number;
  model: Transformer;
  opt: AdamW;
  /** Worker threads sharing each micro-batch's rows (wasm: one core each); undefined = this thread alone. */
  parallel: DataParallelTrainer | undefined;
  modelCfg: ModelConfig;
  tokenizer: Tokenizer;
  vocab: Vocab;
  vq: ImageCoder | null;
  /** Set when resuming: the checkpoint's step and data position. */
  resume: { step: number; data: DataState } | undefined;
}

type HeldOut = Awaited<ReturnType<typeof heldOutBatches>>;

const round = (x: number, d = 4) => Number(x.toFixed(d));
const roundAll = (o: Record<string, number>) =>
  Object.fromEntries(Object.entries(o).map(([k, v]) => [k, round(v)]));
const lossesOf = (s: LossStats) => ({
  loss_by_source: roundAll(Object.fromEntries(Object.entries(s.perSource).map(([k, v]) => [k, v.loss]))),
  loss_by_modality: roundAll(
    Object.fromEntries(
      Object.entries(s.perModality)
        .filter(([, v]) => v.tokens > 0)
        .map(([k, v]) => [k, v.loss]),
    ),
  ),
});

export class MultimodalRun {
  readonly records: MetricRecord[];
  private readonly metricsFile: string;
  private readonly baseline: UnigramBaseline;
  private readonly weights: LossWeights;

  private constructor(
    private readonly s: MultimodalRunSetup,
    private readonly stream: TrainStream,
    private readonly heldOut: HeldOut,
    kept: MetricRecord[],
  ) {
    this.records = kept;
    this.metricsFile = metricsPath(s.cfg);
    this.baseline = new UnigramBaseline(s.modelCfg.vocabSize);
    const t = s.cfg.training;
    this.weights = {
      text: t.loss_weight_text,
      image: t.loss_weight_image,
      ...(t.loss_weight_image_captioned !== undefined
        ? { imageCaptioned: t.loss_weight_image_captioned }
        : {}),
    };
  }

  /** Rewrites metrics.jsonl up to the resumed step, opens the training stream there, and reads the held-out batches. */
  static async open(setup: MultimodalRunSetup): Promise<MultimodalRun> {
    const { cfg, tokenizer, vocab, vq, modelCfg, resume } = setup;
    const file = metricsPath(cfg);
    // Records after the resumed step will be produced again: drop them so the log has no duplicates.
    const kept = resume ? readMetrics(file).filter((r) => r.step <= resume.step) : [];
    fs.writeFileSync(file, kept.map((r) => `${JSON.stringify(r)}\n`).join(""));
    const dataParams = { cfg, tokenizer, vocab, vq, seqLen: modelCfg.seqLen };
    const stream = createTrainStream({ ...dataParams, ...(resume ? { resume: resume.data } : {}) });
    const heldOut = await heldOutBatches(dataParams);
    return new MultimodalRun(setup, stream, heldOut, kept);
  }

  /** Steps from the resumed step (or 0) to max_steps, evaluating and checkpointing when due. */
  async train(params: {
    onStep?: (record: MetricRecord, maxSteps: number) => void;
    stopAfter?: number;
  }): Promise<MetricRecord[]> {
    const t = this.s.cfg.training;
    for (let step = this.s.resume?.step ?? 0; step < t.max_steps; step++) {
      const record = await this.step(step);
      params.onStep?.(record, t.max_steps);
      const done = step + 1;
      if (done % t.eval_every === 0 || done === t.max_steps) await this.evalAndReport(done);
      if (done % t.checkpoint_every === 0 || done === t.max_steps) await this.checkpoint(done);
      if (params.stopAfter !== undefined && done >= params.stopAfter) break;
    }
    return this.records;
  }

  /** One optimizer step over grad_accum micro-batches; returns (and logs) its metrics record. */
  private async step(step: number): Promise<MetricRecord> {
    const t = this.s.cfg.training;
    const t0 = performance.now();
    const micro: Batch[] = [];
    for (let a = 0; a < t.grad_accum; a++) micro.push(await this.stream.next());
    for (const b of micro) this.baseline.add(b);
    const schedule = { lr: t.lr, minLr: t.min_lr, warmup: t.warmup, maxSteps: t.max_steps };
    const p = {
      model: this.s.model,
      opt: this.s.opt,
      micro,
      lr: lrAt(step, schedule),
      gradClip: t.grad_clip,
      lossWeights: this.weights,
    };
    const r = await (this.s.parallel ? this.s.parallel.step(p) : trainStep(p));
    const seconds = (performance.now() - t0) / 1000;
    const tokens = micro.reduce((sum, b) => sum + b.B * b.T, 0);
    const record: MetricRecord = {
      type: "train",
      step: step + 1,
      loss: round(r.loss),
      ...lossesOf(r),
      tokens_per_s: round(tokens / seconds, 1),
      flops_per_s: round((6 * this.s.paramCount * tokens) / seconds, 0),
      lr: r.lr,
      grad_norm: round(r.gradNorm),
    };
    this.appendRecord(record);
    return record;
  }

  private appendRecord(r: MetricRecord): void {
    this.records.push(r);
    fs.appendFileSync(this.metricsFile, `${JSON.stringify(r)}\n`);
  }

  /** Held-out loss vs the unigram baseline, then report.html with sample generations. */
  private async evalAndReport(step: number): Promise<void> {
    const { cfg, model, log } = this.s;
    const heldOut = this.heldOut;
    if (heldOut.batches.length) {
      const stats = await evaluate(model, heldOut.batches, this.weights);
      const base = this.baseline.loss(heldOut.batches);
      this.appendRecord({
        type: "eval",
        step,
        loss: round(stats.loss),
        ...lossesOf(stats),
        baseline_by_source: roundAll(base),
      });
      log(
        `eval step ${step}: held-out ${JSON.stringify(lossesOf(stats).loss_by_source)} vs unigram ${JSON.stringify(roundAll(base))}`,
      );
    }
    const samples = await reportSamples({
      model,
      tokenizer: this.s.tokenizer,
      vocab: this.s.vocab,
      vq: this.s.vq,
      heldOut,
      seed: cfg.training.seed,
      maxNewTokens: cfg.training.sample_max_tokens,
    });
    const out = cfg.output_dir;
    writeReport(
      out,
      await renderReport({
        title: `train-multimodal: ${path.basename(path.resolve(out))}`,
        metrics: this.records,
        samples,
        plan: this.s.planText,
        mixture: activeSources(cfg),
        sections: loadSampleSections(cfg.training.report_samples),
      }),
    );
  }

  /** Tokenizer copy, weights, optimizer moments, data position and config. */
  private async checkpoint(step: number): Promise<void> {
    const { cfg, vocab, model, opt } = this.s;
    const out = cfg.output_dir;
    writeFileAtomicSync(path.join(out, "tokenizer.json"), fs.readFileSync(tokenizerPathFor(cfg)));
    await saveCheckpoint({
      dir: out,
      state: {
        format: "laion-trainer-2b-v1",
        step,
        model: this.s.modelCfg,
        tokenizer: path.resolve(out, "tokenizer.json"),
        vocab: { textSize: vocab.textSize, codebookSize: vocab.codebookSize },
        vqCheckpoint: cfg.training.vq_checkpoint ? path.resolve(cfg.training.vq_checkpoint) : null,
        data: this.stream.state(),
        config: cfg,
      },
      weights: model.params,
      optimizer: opt.moments(),
    });
  }
}

const metricsPath = (cfg: TrainConfig) => path.join(cfg.output_dir, "metrics.jsonl");

export function tokenizerPathFor(cfg: TrainConfig): string {
  return cfg.model.tokenizer ?? path.join(cfg.output_dir, "tokenizer.json");
}

async function reportSamples(p: {
  model: Transformer;
  tokenizer: Tokenizer;
  vocab: Vocab;
  vq: ImageCoder | null;
  heldOut: HeldOut;
  seed: number;
  maxNewTokens: number;
}): Promise<ReportSample[]> {
  const g = {
    model: p.model,
    tokenizer: p.tokenizer,
    vocab: p.vocab,
    vq: p.vq,
    seed: p.seed,
    temperature: 0.7,
    topK: 20,
    maxNewTokens: p.maxNewTokens,
  };
  const out: ReportSample[] = [];
  for (const s of (p.heldOut.samples["text"] ?? []).slice(0, 2)) {
    const words = textOf(s).split(/\s+/);
    const prompt = words.slice(0, Math.max(1, Math.min(3, words.length - 1))).join(" ");
    const r = await generate(g, { kind: "text", prompt });
    if (r.kind === "text") out.push({ kind: "text", prompt, output: r.text });
  }
  for (const name of ["local", "laion"]) {
    const docs = p.heldOut.docs[name] ?? [];
    const raws = p.heldOut.samples[name] ?? [];
    for (let i = 0; i < Math.min(2, docs.length); i++) {
      const raw = raws[i]!;
      const caption = textOf(raw);
      const codes = Int32Array.from(
        docs[i]!.tokens.filter((t) => t >= p.vocab.imageOffset).map((t) => t - p.vocab.imageOffset),
      );
      const img = await generate(g, { kind: "caption2image", caption });
      if (img.kind === "caption2image")
        out.push({
          kind: "caption2image",
          prompt: `${name}: ${caption}`,
          output: `${img.codes.length} codes`,
          png: img.png,
        });
      const cap = await generate(g, { kind: "image2caption", image: codes });
      const input = p.vq && codes.length === p.vq.tokensPerImage ? await p.vq.decodeToPng(codes) : null;
      if (cap.kind === "image2caption")
        out.push({
          kind: "image2caption",
          prompt: `${name} (true: ${caption})`,
          output: cap.text,
          png: input,
        });
    }
  }
  return out;
}

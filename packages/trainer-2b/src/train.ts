// trainMultimodal: the library function behind `train-multimodal`. Order of work: config →
// backend → tokenizer → VQ → vocabulary → preflight (before any weight is allocated) → model,
// optimizer, data (fresh or from the last checkpoint) → loop (step, metrics, eval + report,
// checkpoint).
import fs from "node:fs";
import path from "node:path";
import { loadCheckpoint, saveCheckpoint } from "./checkpoint.js";
import { modelConfigFor, resolveShape, type TrainConfig } from "./config.js";
import {
  activeSources,
  createTrainStream,
  type DataState,
  heldOutBatches,
  type ImageCoder,
  tokenizerTexts,
} from "./data.js";
import { generate } from "./generate.js";
import { type ModelConfig, type Tf, Transformer } from "./model.js";
import { AdamW, lrAt } from "./optim.js";
import { assertFits, deviceMemory, formatPlan, type MemoryPlan, memoryPlan } from "./preflight.js";
import { type MetricRecord, type ReportSample, readMetrics, renderReport, writeReport } from "./report.js";
import type { Batch } from "./sequences.js";
import { Tokenizer, trainBpe } from "./tokenizer.js";
import { evaluate, type LossStats, trainStep } from "./train-step.js";
import { makeVocab, SPECIALS, type Vocab } from "./vocab.js";
import { loadImageCoder, pickBackend } from "./vq-bridge.js";

export interface TrainParams {
  config: TrainConfig;
  /** Continue from the last checkpoint in output_dir (if there is one). */
  resume?: boolean;
  /** Print the plan and return before allocating anything. */
  dryRun?: boolean;
  log?: (message: string) => void;
  onStep?: (record: MetricRecord, maxSteps: number) => void;
  /** Injected for tests/embedding: a ready tfjs namespace (skips backend selection) and its name. */
  tf?: Tf;
  backendName?: string;
  /** Injected image coder (instead of loading training.vq_checkpoint). */
  vq?: ImageCoder | null;
  /** Return after this step, as if the process had been killed (resume tests). */
  stopAfter?: number;
}

export interface TrainPlan {
  backend: string;
  model: ModelConfig;
  memory: MemoryPlan;
  device: { bytes: number; source: string };
  mixture: Record<string, number>;
  text: string;
  /** Whether the memory plan fits the device (a dry run reports instead of throwing). */
  fits: boolean;
}

export interface TrainResult {
  plan: TrainPlan;
  records: MetricRecord[];
  outputDir: string;
}

function describeMixture(cfg: TrainConfig): Record<string, number> {
  const s = activeSources(cfg);
  return { laion: s.laion, text: s.text, local: s.local };
}

export function planText(p: Omit<TrainPlan, "text" | "fits">, cfg: TrainConfig): string {
  const m = p.model;
  const mix = Object.entries(p.mixture)
    .map(([k, v]) => `${k} ${(v * 100).toFixed(1)}%`)
    .join(", ");
  return [
    `backend         ${p.backend}`,
    `model           preset ${cfg.model.preset}: d_model ${m.dModel}, ${m.nLayers} layers, ${m.nHeads} heads, d_ff ${m.dFF}, seq_len ${m.seqLen}, vocab ${m.vocabSize}`,
    formatPlan(p.memory),
    `device memory   ${(p.device.bytes / 1e9).toFixed(2)} GB (${p.device.source})`,
    `mixture         ${mix} (laion_path ${cfg.training.laion_path ?? "null"})`,
    `batch           ${cfg.training.batch_size} × ${m.seqLen} tokens × grad_accum ${cfg.training.grad_accum} = ${cfg.training.batch_size * m.seqLen * cfg.training.grad_accum} tokens/step`,
    `schedule        ${cfg.training.max_steps} steps, lr ${cfg.training.lr} (warmup ${cfg.training.warmup}, cosine to ${cfg.training.min_lr})`,
  ].join("\n");
}

async function prepareTokenizer(
  cfg: TrainConfig,
  log: (m: string) => void,
  fromCheckpoint?: string,
): Promise<Tokenizer> {
  const file = fromCheckpoint ?? cfg.model.tokenizer ?? path.join(cfg.output_dir, "tokenizer.json");
  if (fs.existsSync(file)) return Tokenizer.load(file);
  if (cfg.model.tokenizer || fromCheckpoint) throw new Error(`tokenizer ${file} does not exist`);
  const size = resolveShape(cfg).textVocab;
  log(`training the BPE tokenizer (${size} text tokens) on data.corpus + data.captions → ${file}`);
  const tok = await trainBpe({ texts: tokenizerTexts(cfg), vocabSize: size });
  tok.save(file);
  return tok;
}

/** Per-source unigram model of the tokens seen in training (add-½ smoothing): the baseline for held-out loss. */
class UnigramBaseline {
  private counts = new Map<string, Float64Array>();
  constructor(private readonly V: number) {}
  add(batch: Batch) {
    for (let i = 0; i < batch.targets.length; i++) {
      if (!batch.lossMask[i]) continue;
      const s = batch.sources[batch.sourceIdx[i]!]!;
      let c = this.counts.get(s);
      if (!c) {
        c = new Float64Array(this.V + 1);
        this.counts.set(s, c);
      }
      c[batch.targets[i]!]!++;
      c[this.V]!++;
    }
  }
  loss(batches: Batch[]): Record<string, number> {
    const sum: Record<string, [number, number]> = {};
    for (const b of batches) {
      for (let i = 0; i < b.targets.length; i++) {
        if (!b.lossMask[i]) continue;
        const s = b.sources[b.sourceIdx[i]!]!;
        const c = this.counts.get(s);
        const p = c ? (c[b.targets[i]!]! + 0.5) / (c[this.V]! + 0.5 * this.V) : 1 / this.V;
        const e = sum[s] ?? [0, 0];
        sum[s] = e;
        e[0] -= Math.log(p);
        e[1]++;
      }
    }
    return Object.fromEntries(Object.entries(sum).map(([k, [l, n]]) => [k, l / n]));
  }
}

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

export async function trainMultimodal(params: TrainParams): Promise<TrainResult> {
  const cfg = params.config;
  const log = params.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const out = cfg.output_dir;
  const shape = resolveShape(cfg);

  // Backend first: the device decides what fits.
  let tf = params.tf;
  let backend = params.backendName ?? (tf ? tf.getBackend() : "");
  if (!tf) {
    const picked = await pickBackend(cfg.training.backend, log);
    tf = picked.tf;
    backend = picked.name;
  }
  log(`backend: ${backend}`);

  const resumeFrom = params.resume ? (await import("./checkpoint.js")).findCheckpoint(out) : null;
  if (params.resume && !resumeFrom) log(`--resume: no checkpoint in ${out} yet, starting from step 0`);

  // Vocabulary: tokenizer + codebook. A dry run uses the configured sizes and allocates nothing.
  let tokenizer: Tokenizer | null = null;
  let vq: ImageCoder | null = params.vq ?? null;
  const needsImages = activeSources(cfg).local > 0 || activeSources(cfg).laion > 0;
  if (!params.dryRun) {
    fs.mkdirSync(out, { recursive: true });
    const ckptTok = resumeFrom ? path.join(out, "tokenizer.json") : undefined;
    tokenizer = await prepareTokenizer(cfg, log, ckptTok && fs.existsSync(ckptTok) ? ckptTok : undefined);
    if (params.vq === undefined && cfg.training.vq_checkpoint)
      vq = await loadImageCoder(cfg.training.vq_checkpoint);
    if (needsImages && !vq) {
      throw new Error(
        "image sources are in the mixture (local captions or LAION) but no VQ checkpoint was given: pass --vq-checkpoint or set training.text_only_prob: 1",
      );
    }
  }
  const vocab: Vocab = makeVocab({
    textSize: tokenizer?.size ?? shape.textVocab,
    codebookSize: vq?.codebookSize ?? (needsImages ? shape.codebookSize : 0),
  });
  const vocabSize = cfg.model.vocab ?? vocab.size;
  if (vocabSize < vocab.size) {
    throw new Error(
      `model.vocab is ${vocabSize}, but ${SPECIALS.length} specials + ${vocab.textSize} text tokens + ${vocab.codebookSize} VQ codes need ${vocab.size}`,
    );
  }
  const modelCfg = modelConfigFor(cfg, vocabSize);

  // Preflight: the arithmetic before the allocation.
  const memory = memoryPlan(modelCfg, cfg.training.batch_size, cfg.training.grad_accum);
  const device = deviceMemory(backend, cfg.training.device_memory_gb);
  const partial = { backend, model: modelCfg, memory, device, mixture: describeMixture(cfg) };
  const plan: TrainPlan = { ...partial, text: planText(partial, cfg), fits: true };
  if (params.dryRun) {
    try {
      assertFits({
        plan: memory,
        device,
        batchSize: cfg.training.batch_size,
        gradAccum: cfg.training.grad_accum,
      });
      plan.text += "\nfits            yes";
    } catch (err) {
      plan.fits = false;
      plan.text += `\nfits            NO: ${(err as Error).message}`;
    }
    log(plan.text);
    return { plan, records: [], outputDir: out };
  }
  log(plan.text);
  assertFits({
    plan: memory,
    device,
    batchSize: cfg.training.batch_size,
    gradAccum: cfg.training.grad_accum,
  });

  // Model, optimizer and data position: fresh or from the checkpoint.
  let model: Transformer;
  let opt: AdamW;
  let dataState: DataState | undefined;
  let startStep = 0;
  if (resumeFrom) {
    const ck = loadCheckpoint(tf, resumeFrom);
    if (JSON.stringify(ck.state.model) !== JSON.stringify(modelCfg)) {
      throw new Error(
        `${resumeFrom}: checkpoint model ${JSON.stringify(ck.state.model)} differs from the config's ${JSON.stringify(modelCfg)}`,
      );
    }
    model = new Transformer(tf, modelCfg, { weights: ck.weights });
    opt = new AdamW(tf, model.params, { weightDecay: cfg.training.weight_decay }, ck.optimizer);
    tf.dispose([
      ...Object.values(ck.weights),
      ...Object.values(ck.optimizer?.m ?? {}),
      ...Object.values(ck.optimizer?.v ?? {}),
    ]);
    dataState = ck.state.data as DataState;
    startStep = ck.state.step;
    log(`resumed from ${resumeFrom} at step ${startStep}`);
  } else {
    model = new Transformer(tf, modelCfg, { seed: cfg.training.seed });
    opt = new AdamW(tf, model.params, { weightDecay: cfg.training.weight_decay });
  }
  const metricsFile = path.join(out, "metrics.jsonl");
  // Records after the resumed step will be produced again: drop them so the log has no duplicates.
  const kept = resumeFrom ? readMetrics(metricsFile).filter((r) => r.step <= startStep) : [];
  fs.writeFileSync(metricsFile, kept.map((r) => `${JSON.stringify(r)}\n`).join(""));

  const dataParams = { cfg, tokenizer: tokenizer!, vocab, vq, seqLen: modelCfg.seqLen };
  const stream = createTrainStream({ ...dataParams, ...(dataState ? { resume: dataState } : {}) });
  const heldOut = await heldOutBatches(dataParams);
  const baseline = new UnigramBaseline(modelCfg.vocabSize);
  const weights = { text: cfg.training.loss_weight_text, image: cfg.training.loss_weight_image };
  const schedule = {
    lr: cfg.training.lr,
    minLr: cfg.training.min_lr,
    warmup: cfg.training.warmup,
    maxSteps: cfg.training.max_steps,
  };
  const records: MetricRecord[] = [...kept];
  const appendRecord = (r: MetricRecord) => {
    records.push(r);
    fs.appendFileSync(metricsFile, `${JSON.stringify(r)}\n`);
  };

  const checkpoint = async (step: number) => {
    fs.copyFileSync(tokenizerPathFor(cfg), path.join(out, "tokenizer.json.tmp"));
    fs.renameSync(path.join(out, "tokenizer.json.tmp"), path.join(out, "tokenizer.json"));
    await saveCheckpoint({
      dir: out,
      state: {
        format: "laion-trainer-2b-v1",
        step,
        model: modelCfg,
        tokenizer: path.resolve(out, "tokenizer.json"),
        vocab: { textSize: vocab.textSize, codebookSize: vocab.codebookSize },
        vqCheckpoint: cfg.training.vq_checkpoint ? path.resolve(cfg.training.vq_checkpoint) : null,
        data: stream.state(),
        config: cfg,
      },
      weights: model.params,
      optimizer: { m: opt.m, v: opt.v, step: opt.step },
    });
  };

  const evalAndReport = async (step: number) => {
    if (heldOut.batches.length) {
      const stats = evaluate(model, heldOut.batches, weights);
      const base = baseline.loss(heldOut.batches);
      appendRecord({
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
      tokenizer: tokenizer!,
      vocab,
      vq,
      heldOut,
      seed: cfg.training.seed,
      maxNewTokens: cfg.training.sample_max_tokens,
    });
    writeReport(
      out,
      renderReport({
        title: `train-multimodal: ${path.basename(path.resolve(out))}`,
        metrics: records,
        samples,
        plan: plan.text,
      }),
    );
  };

  const paramCount = memory.params;
  for (let step = startStep; step < cfg.training.max_steps; step++) {
    const t0 = performance.now();
    const micro: Batch[] = [];
    for (let a = 0; a < cfg.training.grad_accum; a++) micro.push(await stream.next());
    for (const b of micro) baseline.add(b);
    const r = trainStep({
      model,
      opt,
      micro,
      lr: lrAt(step, schedule),
      gradClip: cfg.training.grad_clip,
      lossWeights: weights,
    });
    const seconds = (performance.now() - t0) / 1000;
    const tokens = micro.reduce((s, b) => s + b.B * b.T, 0);
    const record: MetricRecord = {
      type: "train",
      step: step + 1,
      loss: round(r.loss),
      ...lossesOf(r),
      tokens_per_s: round(tokens / seconds, 1),
      flops_per_s: round((6 * paramCount * tokens) / seconds, 0),
      lr: r.lr,
      grad_norm: round(r.gradNorm),
    };
    appendRecord(record);
    params.onStep?.(record, cfg.training.max_steps);
    const done = step + 1;
    if (done % cfg.training.eval_every === 0 || done === cfg.training.max_steps) await evalAndReport(done);
    if (done % cfg.training.checkpoint_every === 0 || done === cfg.training.max_steps) await checkpoint(done);
    if (params.stopAfter !== undefined && done >= params.stopAfter) break;
  }
  model.dispose();
  opt.dispose();
  return { plan, records, outputDir: out };
}

function tokenizerPathFor(cfg: TrainConfig): string {
  return cfg.model.tokenizer ?? path.join(cfg.output_dir, "tokenizer.json");
}

async function reportSamples(p: {
  model: Transformer;
  tokenizer: Tokenizer;
  vocab: Vocab;
  vq: ImageCoder | null;
  heldOut: Awaited<ReturnType<typeof heldOutBatches>>;
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
    const words = String(s["txt"]).split(/\s+/);
    const prompt = words.slice(0, Math.max(1, Math.min(3, words.length - 1))).join(" ");
    const r = await generate(g, { kind: "text", prompt });
    if (r.kind === "text") out.push({ kind: "text", prompt, output: r.text });
  }
  for (const name of ["local", "laion"]) {
    const docs = p.heldOut.docs[name] ?? [];
    const raws = p.heldOut.samples[name] ?? [];
    for (let i = 0; i < Math.min(2, docs.length); i++) {
      const raw = raws[i]!;
      const caption =
        typeof raw["txt"] === "string" ? raw["txt"] : new TextDecoder().decode(raw["txt"] as Uint8Array);
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

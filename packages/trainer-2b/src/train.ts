// trainMultimodal: the library function behind `train-multimodal`. Order of work: config →
// backend → tokenizer → VQ → vocabulary → preflight (before any weight is allocated) → model,
// optimizer, data (fresh or from the last checkpoint) → loop (train-loop.ts: step, metrics,
// eval + report, checkpoint).

import fs from "node:fs";
import path from "node:path";
import {
  type BackendName,
  type DeviceInfo,
  dataParallel,
  describeDevice,
  type HelperKind,
  nvidiaGpus,
  pinFirstDevice,
  plannedDevices,
} from "@laion/vq";
import { findCheckpoint, loadCheckpoint } from "./checkpoint.js";
import { modelConfigFor, resolveShape, type TrainConfig } from "./config.js";
import { activeSources, type DataState, type ImageCoder, tokenizerTexts } from "./data.js";
import { type ModelConfig, type Tf, Transformer } from "./model.js";
import { AdamW } from "./optim.js";
import { DataParallelTrainer, type StepProfile } from "./parallel-step.js";
import {
  assertFits,
  assertTensorFits,
  deviceMemory,
  formatPlan,
  largestTensor,
  type MemoryPlan,
  memoryPlan,
} from "./preflight.js";
import type { MetricRecord } from "./report.js";
import { claimTrainOutput, lastCheckpointStep } from "./run-manifest.js";
import { Tokenizer, trainBpe } from "./tokenizer.js";
import { MultimodalRun } from "./train-loop.js";
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
  /**
   * output_dir holds a run made with other settings or inputs (its `.run-manifest.json` says): move it to
   * `<output_dir>.prev-<n>` and start over. Without it such a run is refused, naming the differences.
   */
  overwrite?: boolean;
}

export interface TrainPlan {
  backend: string;
  model: ModelConfig;
  memory: MemoryPlan;
  device: { bytes: number; source: string };
  /** What the backend runs on and why it was chosen (absent when a tfjs namespace was injected). */
  deviceInfo?: DeviceInfo;
  /** Threads (wasm) or device processes sharing each step, 1 otherwise. */
  threads: number;
  /** "process" when the threads are device processes (training.devices, or a GPU backend with several GPUs). */
  helpers: HelperKind;
  /** With device processes: what each one runs on (from nvidia-smi before they start; their own answer after). */
  devices?: string[];
  mixture: Record<string, number>;
  text: string;
  /** Whether the memory plan fits the device (a dry run reports instead of throwing). */
  fits: boolean;
}

export interface TrainResult {
  plan: TrainPlan;
  records: MetricRecord[];
  outputDir: string;
  /** With plan.threads > 1: where the data-parallel steps' time went (tools/bench/threads.bench.mjs). */
  profile?: StepProfile;
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
    ...(p.deviceInfo ? [`device          ${describeDevice(p.deviceInfo)}`] : []),
    p.helpers === "process"
      ? `devices         ${p.threads} (data-parallel processes, one per device)`
      : `threads         ${p.threads}${p.threads > 1 ? " (data-parallel wasm workers, one core each)" : ""}`,
    ...(p.devices ?? []).map((d) => `  ${d}`),
    largestLine(p, cfg),
    `mixture         ${mix} of steps (laion_prob ${cfg.training.laion_prob}, text_only_prob ${cfg.training.text_only_prob}; laion_path ${cfg.training.laion_path ?? "null"})`,
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
  log(
    `training the BPE tokenizer (${size} text tokens) on data.corpus + data.captions${activeSources(cfg).laion > 0 ? " + LAION captions" : ""} → ${file}`,
  );
  const tok = await trainBpe({ texts: tokenizerTexts(cfg), vocabSize: size });
  tok.save(file);
  return tok;
}

export async function trainMultimodal(params: TrainParams): Promise<TrainResult> {
  if (params.dryRun) return train(params);
  const log = params.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  // one trainer per output_dir, and a run only ever continued with the settings and inputs it began with
  const claim = claimTrainOutput(params.config, params.overwrite ?? false, log);
  try {
    const result = await train(params);
    const last = result.records.at(-1)?.step ?? lastCheckpointStep(params.config.output_dir) ?? 0;
    if (last >= params.config.training.max_steps) claim.finish(last);
    return result;
  } finally {
    claim.lock.release();
  }
}

async function train(params: TrainParams): Promise<TrainResult> {
  const cfg = params.config;
  const log = params.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const out = cfg.output_dir;
  // Backend first: the device decides what fits.
  const { tf, backend, device } = await setupBackend(params, log);
  const resumeFrom = params.resume ? findCheckpoint(out) : null;
  if (params.resume && !resumeFrom) log(`--resume: no checkpoint in ${out} yet, starting from step 0`);

  const { tokenizer, vq, vocab, modelCfg, codebook } = await prepareVocabulary(params, resumeFrom, log);
  const plan = preflight(cfg, { backend, device }, modelCfg, params.dryRun ?? false, log);
  if (params.dryRun || !tokenizer) return { plan, records: [], outputDir: out };

  const start = startModel(tf, cfg, { modelCfg, codebook }, resumeFrom, log);
  // the helpers load tfjs while this thread reads the held-out batches
  const parallel =
    plan.threads > 1
      ? DataParallelTrainer.start(modelCfg, plan.threads, {
          kind: plan.helpers,
          backend: backend as BackendName,
        })
      : undefined;
  try {
    if (parallel && plan.helpers === "process")
      for (const line of await parallel.devices(device ? describeDevice(device) : `backend ${backend}`))
        log(line);
    const records = await trainRun(
      { cfg, log, plan, start, parallel, modelCfg, tokenizer, vocab, vq },
      params,
    );
    return { plan, records, outputDir: out, ...(parallel ? { profile: { ...parallel.profile } } : {}) };
  } finally {
    await parallel?.close();
    start.model.dispose();
    start.opt.dispose();
  }
}

async function trainRun(
  s: {
    cfg: TrainConfig;
    log: (m: string) => void;
    plan: TrainPlan;
    start: ReturnType<typeof startModel>;
    parallel: DataParallelTrainer | undefined;
    modelCfg: ModelConfig;
    tokenizer: Tokenizer;
    vocab: Vocab;
    vq: ImageCoder | null;
  },
  params: TrainParams,
): Promise<MetricRecord[]> {
  const { cfg, log, plan, start, modelCfg, tokenizer, vocab, vq } = s;
  const run = await MultimodalRun.open({
    cfg,
    log,
    planText: plan.text,
    paramCount: plan.memory.params,
    model: start.model,
    opt: start.opt,
    parallel: s.parallel,
    modelCfg,
    tokenizer,
    vocab,
    vq,
    resume: start.resume,
  });
  return run.train({
    ...(params.onStep ? { onStep: params.onStep } : {}),
    ...(params.stopAfter !== undefined ? { stopAfter: params.stopAfter } : {}),
  });
}

/** The injected tfjs namespace, or the configured backend chain's first that loads. */
async function setupBackend(
  params: TrainParams,
  log: (m: string) => void,
): Promise<{ tf: Tf; backend: string; device?: DeviceInfo }> {
  // this process is device 0: pinned before a GPU backend loads (see pinFirstDevice)
  pinFirstDevice(params.config.training.devices ?? nvidiaGpus().length);
  if (params.tf) {
    const backend = params.backendName ?? params.tf.getBackend();
    log(`backend ${backend} (given)`);
    return { tf: params.tf, backend };
  }
  // pickBackend logged the one line naming it (and how to get faster ones)
  const picked = await pickBackend(params.config.training.backend, log);
  return { tf: picked.tf, backend: picked.name, device: picked.device };
}

/** The plan's line on the largest tensor, with the device's per-buffer limit where it has one. */
function largestLine(p: Pick<TrainPlan, "model" | "deviceInfo">, cfg: TrainConfig): string {
  const top = largestTensor(p.model, cfg.training.batch_size);
  const limit = p.deviceInfo?.maxTensorBytes;
  return `largest tensor  ${top.name} ${(top.bytes / 1e9).toFixed(2)} GB${limit ? ` (one buffer may hold ${(limit / 1e9).toFixed(2)} GB)` : ""}`;
}

/**
 * Vocabulary: tokenizer + codebook, and the model shape it gives. A dry run uses the configured
 * sizes and allocates nothing (no tokenizer, no VQ).
 */
async function prepareVocabulary(
  params: TrainParams,
  resumeFrom: string | null,
  log: (m: string) => void,
): Promise<{
  tokenizer: Tokenizer | null;
  vq: ImageCoder | null;
  vocab: Vocab;
  modelCfg: ModelConfig;
  codebook?: Float32Array;
}> {
  const cfg = params.config;
  const out = cfg.output_dir;
  const shape = resolveShape(cfg);
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
  const images = await imageInputs(cfg, vocab, vq);
  return {
    tokenizer,
    vq,
    vocab,
    modelCfg: modelConfigFor(cfg, vocabSize, images),
    ...(images?.codebook ? { codebook: images.codebook } : {}),
  };
}

/**
 * What model.image_embedding / image_positions need from the VQ: its codebook and code grid side. A
 * dry run (no VQ) plans with a code size of 16, what every VQ preset uses.
 */
async function imageInputs(cfg: TrainConfig, vocab: Vocab, vq: ImageCoder | null) {
  if (vocab.codebookSize === 0) return undefined;
  const byCodebook = cfg.model.image_embedding === "codebook";
  const cells = vq?.tokensPerImage ?? 256;
  const side = Math.round(Math.sqrt(cells));
  if (cfg.model.image_positions === "grid" && side * side !== cells)
    throw new Error(
      `model.image_positions "grid" needs a square code grid; the VQ gives ${cells} codes per image`,
    );
  let vectors: { data: Float32Array; dim: number } | undefined;
  if (byCodebook && vq) {
    if (!vq.codebookVectors)
      throw new Error(
        'model.image_embedding "codebook" needs a VQ that exposes its codebook (a @laion/vq checkpoint)',
      );
    vectors = await vq.codebookVectors();
  }
  return {
    offset: vocab.imageOffset,
    size: vocab.codebookSize,
    codeDim: vectors?.dim ?? 16,
    side,
    ...(vectors ? { codebook: vectors.data } : {}),
  };
}

/** The arithmetic before the allocation: a dry run reports whether it fits, a real run refuses if not. */
function preflight(
  cfg: TrainConfig,
  chosen: { backend: string; device: DeviceInfo | undefined },
  modelCfg: ModelConfig,
  dryRun: boolean,
  log: (m: string) => void,
): TrainPlan {
  const { backend, device: deviceInfo } = chosen;
  const memory = memoryPlan(modelCfg, cfg.training.batch_size, cfg.training.grad_accum);
  const device = deviceMemory(backend, cfg.training.device_memory_gb, deviceInfo);
  if (device.warning) log(`warning: ${device.warning}`);
  const gpus = nvidiaGpus();
  const { count: threads, kind: helpers } = dataParallel(backend, cfg.training, gpus.length);
  const here = deviceInfo ? describeDevice(deviceInfo) : `backend ${backend}`;
  const partial = {
    backend,
    model: modelCfg,
    memory,
    device,
    ...(deviceInfo ? { deviceInfo } : {}),
    threads,
    helpers,
    ...(helpers === "process" ? { devices: plannedDevices(threads, here, backend, gpus) } : {}),
    mixture: describeMixture(cfg),
  };
  const plan: TrainPlan = { ...partial, text: planText(partial, cfg), fits: true };
  const check = () => {
    assertFits({
      plan: memory,
      device,
      batchSize: cfg.training.batch_size,
      gradAccum: cfg.training.grad_accum,
    });
    assertTensorFits({
      cfg: modelCfg,
      batchSize: cfg.training.batch_size,
      maxTensorBytes: deviceInfo?.maxTensorBytes,
      device: deviceInfo ? `${deviceInfo.backend} on ${deviceInfo.name}` : backend,
    });
  };
  if (!dryRun) {
    log(plan.text);
    check();
    return plan;
  }
  try {
    check();
    plan.text += "\nfits            yes";
  } catch (err) {
    plan.fits = false;
    plan.text += `\nfits            NO: ${(err as Error).message}`;
  }
  log(plan.text);
  return plan;
}

/** Model, optimizer and data position: fresh, or from the checkpoint (whose model must match the config's). */
function startModel(
  tf: Tf,
  cfg: TrainConfig,
  { modelCfg, codebook }: { modelCfg: ModelConfig; codebook?: Float32Array | undefined },
  resumeFrom: string | null,
  log: (m: string) => void,
): { model: Transformer; opt: AdamW; resume: { step: number; data: DataState } | undefined } {
  const weightDecay = cfg.training.weight_decay;
  if (!resumeFrom) {
    const model = new Transformer(tf, modelCfg, {
      seed: cfg.training.seed,
      ...(codebook ? { codebook } : {}),
    });
    return { model, opt: new AdamW(tf, model.params, { weightDecay }), resume: undefined };
  }
  const ck = loadCheckpoint(tf, resumeFrom);
  if (JSON.stringify(ck.state.model) !== JSON.stringify(modelCfg)) {
    throw new Error(
      `${resumeFrom}: checkpoint model ${JSON.stringify(ck.state.model)} differs from the config's ${JSON.stringify(modelCfg)} (model.image_embedding / image_positions change the model's inputs: train into a new output_dir or set them as the checkpoint was trained)`,
    );
  }
  const model = new Transformer(tf, modelCfg, { weights: ck.weights });
  const opt = new AdamW(tf, model.params, { weightDecay }, ck.optimizer);
  tf.dispose([
    ...Object.values(ck.weights),
    ...Object.values(ck.optimizer?.m ?? {}),
    ...Object.values(ck.optimizer?.v ?? {}),
  ]);
  log(`resumed from ${resumeFrom} at step ${ck.state.step}`);
  return { model, opt, resume: { step: ck.state.step, data: ck.state.data as DataState } };
}

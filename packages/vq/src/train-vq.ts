import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { DEFAULT_LAION_PROB, Random } from "@laion/mixer";
import {
  type BackendName,
  currentBackend,
  currentDevice,
  type DeviceInfo,
  describeDevice,
  selectBackend,
} from "./backend.js";
import { PRESET_LR, resolveConfig, type VQConfig } from "./config.js";
import { type DataParams, decodeImages } from "./data.js";
import { buildEvalSet, type EvalSet, evalSources } from "./eval-set.js";
import { checkTensorFits, checkWasmHeap } from "./memory-preflight.js";
import { forwardFlops } from "./model.js";
import { claimVqOutput } from "./run-manifest.js";
import * as tf from "./tfjs.js";
import { VQRun } from "./train-vq-loop.js";
import type { TrainVQParams, TrainVQResult } from "./train-vq-params.js";
import { loadResumeState, optimPath, restoreOptimizer } from "./train-vq-state.js";
import { VQ } from "./vq-model.js";
import { DataParallelVQ } from "./vq-step.js";
import { dataParallel, nvidiaGpus, pinFirstDevice } from "./worker-pool.js";

export { optimPath };

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
    threads: params.threads,
    devices: params.devices,
  };
  for (const [k, v] of Object.entries(positive)) {
    if (v !== undefined && !(Number.isInteger(v) && v > 0))
      throw new Error(`${k} must be a positive integer, got ${v}`);
  }
  if ((params.threads ?? 1) > 1 && (params.devices ?? 1) > 1)
    throw new Error(
      `threads ${params.threads} and devices ${params.devices}: give one (threads share a batch inside this process, devices across processes)`,
    );
  if (params.lr !== undefined && !(params.lr > 0 && params.lr < 1))
    throw new Error(`lr must be in (0, 1), got ${params.lr}`);
  if (params.laionProb !== undefined && !(params.laionProb >= 0 && params.laionProb <= 1)) {
    throw new Error(`laionProb must be in [0, 1], got ${params.laionProb}`);
  }
}

/**
 * Train a VQ tokenizer. Emits events through `onEvent`; writes the checkpoint (+ optimizer state,
 * metrics.jsonl, reconstruction grids) at every eval and at the end; resumable with `resume`.
 * Setup (backend, resume state, model, optimizer, eval set) happens here; the loop is VQRun's.
 */
export async function trainVQ(params: TrainVQParams): Promise<TrainVQResult> {
  validate(params);
  // one trainer per checkpoint, and a checkpoint only ever continued with the settings it was made with
  const claim = claimVqOutput(params, params.log ?? ((m) => process.stderr.write(`${m}\n`)));
  try {
    const result = await train(params);
    if (params.maxSteps === undefined || result.steps >= params.maxSteps) claim.finish(result.steps);
    return result;
  } finally {
    claim.lock.release();
  }
}

async function train(params: TrainVQParams): Promise<TrainVQResult> {
  const emit = params.onEvent ?? (() => {});
  // this process is device 0: pinned before a GPU backend loads (see pinFirstDevice)
  const gpus = params.devices === undefined ? nvidiaGpus().length : 0;
  pinFirstDevice(params.devices ?? gpus);
  const backend = params.backend
    ? (await selectBackend({ prefer: params.backend })).name
    : (currentBackend() ?? (await selectBackend()).name);
  const seed = params.seed ?? 0;
  const out = params.out;
  const outDir = path.dirname(path.resolve(out));
  await mkdir(outDir, { recursive: true });
  const metricsPath = path.join(outDir, "metrics.jsonl");

  const resumed = params.resume ? await loadResumeState(out) : undefined;
  const config: VQConfig = resumed?.config ?? resolveConfig(params.config, params.preset);
  // a resumed run keeps the schedule it was started with unless told otherwise
  const lr = params.lr ?? resumed?.lr ?? PRESET_LR[params.preset ?? "demo"];
  const batchSize = params.batchSize ?? 16;
  const shares = dataParallel(backend, params, gpus);
  if (backend === "wasm") checkWasmHeap(config, batchSize, shares.count);
  const device = currentDevice();
  if (device) checkTensorFits(config, batchSize, shares.count, device);
  const model = VQ.create(config, seed);
  if (resumed) model.assignTensors(resumed.tensors, out);
  const optimizer = tf.train.adam(lr);
  const vars = model.trainable();
  const names = Object.keys(model.params).sort();
  if (resumed) await restoreOptimizer(optimizer, resumed.optim, names, vars, optimPath(out));

  const heldOutFraction = params.heldOutFraction ?? 0.05;
  const data: DataParams = {
    captions: params.captions,
    imageRoot: params.imageRoot,
    laionTars: params.laionTars,
    laionProb: params.laionProb ?? DEFAULT_LAION_PROB,
    seed,
  };
  const { threads, parallel, evalSet, deviceLines } = await startHelpers(model, backend, shares, () =>
    loadEvalSet(params, config.imageSize, heldOutFraction, data, seed),
  );
  const step = resumed?.step ?? 0;
  emit({
    type: "start",
    backend,
    threads,
    ...(deviceLines ? { devices: deviceLines } : {}),
    config,
    step,
    parameters: vars.reduce((a, v) => a + v.size, 0),
    flopsPerImage: forwardFlops(config),
    evalImages: evalSet.n,
    evalDistinct: evalSet.distinct,
    evalCrops: evalSet.crops,
    heldOut: evalSet.heldOut,
  });
  if (!params.resume) await writeFile(metricsPath, "");

  const run = new VQRun({
    params,
    emit,
    backend,
    config,
    model,
    optimizer,
    parallel,
    names,
    vars,
    outDir,
    metricsPath,
    evalSet,
    data,
    seed,
    lr,
    batchSize,
    evalEvery: params.evalEvery ?? 200,
    heldOutFraction,
    rng: resumed?.rng ?? new Random(seed),
    step,
    resumeEpoch: resumed?.epoch ?? 0,
    resumeData: resumed?.data,
  });
  try {
    const result = await run.run();
    return parallel ? { ...result, profile: parallel.profile } : result;
  } finally {
    await parallel?.close();
  }
}

/**
 * The data-parallel helpers: worker threads (wasm) or device processes (this process's backend). They
 * load tfjs while this thread runs `loading` (the eval set); with device processes, each device's line.
 */
async function startHelpers(
  model: VQ,
  backend: BackendName,
  { count: threads, kind }: ReturnType<typeof dataParallel>,
  loading: () => Promise<EvalSet>,
) {
  if (threads === 1)
    return { threads, parallel: undefined, evalSet: await loading(), deviceLines: undefined };
  const parallel = DataParallelVQ.start(model, threads, { kind, backend });
  const evalSet = await closeOnError(parallel, loading());
  const deviceLines =
    kind === "process" ? await deviceList(parallel, currentDevice() as DeviceInfo) : undefined;
  return { threads, parallel, evalSet, deviceLines };
}

/** "device 1 (child process 4242, CUDA_VISIBLE_DEVICES=1): backend … on …", device 0 (this process) first. */
async function deviceList(parallel: DataParallelVQ, here: DeviceInfo): Promise<string[]> {
  const helpers = await closeOnError(parallel, parallel.devices());
  return [
    `device 0 (this process ${process.pid}, CUDA_VISIBLE_DEVICES=${process.env.CUDA_VISIBLE_DEVICES}): ${describeDevice(here)}`,
    ...helpers.map((d, i) => `${parallel.helpers[i]?.label}: ${d}`),
  ];
}

/** `work`'s result; on its failure the helpers are closed first (idle ones would keep the process alive). */
async function closeOnError<T>(parallel: DataParallelVQ, work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    await parallel.close();
    throw err;
  }
}

/** The given eval images, or held-out images from every training source (topped up with crops). */
async function loadEvalSet(
  params: TrainVQParams,
  imageSize: number,
  heldOutFraction: number,
  data: DataParams,
  seed: number,
): Promise<EvalSet> {
  if (params.evalImages) {
    const n = params.evalImages.length;
    return {
      images: await decodeImages(params.evalImages, imageSize),
      n,
      keys: params.evalImages.map((_, i) => `eval/${i}`),
      distinct: n,
      crops: 0,
      heldOut: true,
      perSource: { evalImages: n },
    };
  }
  const custom = params.samples;
  const evalSet = await buildEvalSet({
    sources: custom ? [{ name: "samples", share: 1, samples: async () => custom(0) }] : evalSources(data),
    count: params.evalCount ?? 32,
    imageSize,
    heldOutFraction,
    seed,
  });
  if (evalSet.n === 0) throw new Error("no decodable images to evaluate on in the training data");
  return evalSet;
}

// Public API of @laion/trainer-2b: train the tokenizer and the multimodal transformer, check a run,
// generate, and the model's building blocks for a loop of your own (as the benchmarks use them):
// config + run manifest, training + preflight + report, generation, model/optimiser/step/tokenizer/
// vocabulary/documents/held-out split. Named one by one; everything else stays internal (tests import
// it from src/).

export { type CheckpointState, loadCheckpoint } from "./checkpoint.js";
export {
  applyOverrides,
  type ConfigOverrides,
  loadConfig,
  modelConfigFor,
  parseConfig,
  resolveShape,
  type TrainConfig,
  trainArgs,
} from "./config.js";
export { heldOutBatches, type ImageCoder } from "./data.js";
export {
  captionImages,
  drawCaptions,
  type GenerateParams,
  type GenerateRequest,
  type GenerateResult,
  generate,
  pickToken,
} from "./generate.js";
export { type LoadedModel, loadForGeneration } from "./load-model.js";
export {
  countParameters,
  documentMask,
  type ImageInputs,
  KVCache,
  type ModelConfig,
  type Tf,
  Transformer,
} from "./model.js";
export { AdamW } from "./optim.js";
export { deviceMemory, formatPlan, type MemoryPlan, memoryPlan, whatFits } from "./preflight.js";
export { PRESET_NAMES, type PresetName } from "./presets.js";
export { type MetricRecord, type ReportSample, renderReport } from "./report.js";
export { writeSamplesFile } from "./report-samples.js";
export { lastCheckpointStep, missingInputs, trainStatus } from "./run-manifest.js";
export { buildDoc, type Doc } from "./sequences.js";
export { Tokenizer, type TrainBpeParams, trainBpe } from "./tokenizer.js";
export { type TrainParams, type TrainPlan, type TrainResult, trainMultimodal } from "./train.js";
export { type StepResult, trainStep } from "./train-step.js";
export { type TrainTokenizerParams, trainTokenizer } from "./train-tokenizer.js";
export { BOI, EOI, EOS, makeVocab, SPECIALS, type Vocab } from "./vocab.js";

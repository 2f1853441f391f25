// Public API of @laion/trainer-2b.

export { type CheckpointState, findCheckpoint, loadCheckpoint, saveCheckpoint } from "./checkpoint.js";
export {
  applyOverrides,
  type ConfigOverrides,
  configSchema,
  loadConfig,
  modelConfigFor,
  parseConfig,
  resolveShape,
  type TrainConfig,
  trainArgs,
} from "./config.js";
export { createTrainStream, type DataState, heldOutBatches, type ImageCoder, isHeldOut } from "./data.js";
export {
  type DecodeOptions,
  type GenerateParams,
  type GenerateRequest,
  type GenerateResult,
  generate,
  pickToken,
  type Sampled,
  type SampleParams,
  sampleTokens,
} from "./generate.js";
export { type LoadedModel, loadForGeneration } from "./load-model.js";
export {
  attention,
  countParameters,
  documentMask,
  type ModelConfig,
  parameterShapes,
  type Tf,
  Transformer,
} from "./model.js";
export { AdamW, clipByGlobalNorm, lrAt, type ScheduleParams } from "./optim.js";
export {
  assertFits,
  deviceMemory,
  formatPlan,
  type MemoryPlan,
  memoryPlan,
  presetModelConfig,
  whatFits,
} from "./preflight.js";
export { PRESET_NAMES, PRESETS, type Preset, type PresetName } from "./presets.js";
export { lineChart, type MetricRecord, type ReportSample, renderReport } from "./report.js";
export { readSamplesFile, type SampleSection, writeSamplesFile } from "./report-samples.js";
export { lastCheckpointStep, missingInputs, trainManifestParams, trainStatus } from "./run-manifest.js";
export { type Batch, buildDoc, type Doc, type DocKind, Packer, type PackerState } from "./sequences.js";
export { pretokenize, Tokenizer, type TokenizerJson, type TrainBpeParams, trainBpe } from "./tokenizer.js";
export { type TrainParams, type TrainPlan, type TrainResult, trainMultimodal } from "./train.js";
export { evaluate, type LossStats, type LossWeights, type StepResult, trainStep } from "./train-step.js";
export { type TrainTokenizerParams, trainTokenizer } from "./train-tokenizer.js";
export {
  BOI,
  BOS,
  codesToVocab,
  EOI,
  EOS,
  kindOf,
  makeVocab,
  PAD,
  SPECIALS,
  type TokenKind,
  textToVocab,
  type Vocab,
  vocabToCodes,
  vocabToText,
} from "./vocab.js";

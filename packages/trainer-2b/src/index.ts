// Public API of @laion/trainer-2b.
export { Tokenizer, trainBpe, pretokenize, type TokenizerJson, type TrainBpeParams } from "./tokenizer.js";
export { trainTokenizer, type TrainTokenizerParams } from "./train-tokenizer.js";
export {
  SPECIALS,
  PAD,
  BOS,
  EOS,
  BOI,
  EOI,
  makeVocab,
  kindOf,
  textToVocab,
  codesToVocab,
  vocabToText,
  vocabToCodes,
  type Vocab,
  type TokenKind,
} from "./vocab.js";
export { buildDoc, Packer, type Doc, type DocKind, type Batch, type PackerState } from "./sequences.js";
export {
  Transformer,
  attention,
  documentMask,
  countParameters,
  parameterShapes,
  type ModelConfig,
  type Tf,
} from "./model.js";
export { AdamW, lrAt, clipByGlobalNorm, type ScheduleParams } from "./optim.js";
export { trainStep, evaluate, type LossStats, type LossWeights, type StepResult } from "./train-step.js";
export { PRESETS, PRESET_NAMES, type Preset, type PresetName } from "./presets.js";
export {
  memoryPlan,
  deviceMemory,
  whatFits,
  assertFits,
  presetModelConfig,
  formatPlan,
  type MemoryPlan,
} from "./preflight.js";
export {
  configSchema,
  parseConfig,
  loadConfig,
  applyOverrides,
  resolveShape,
  type TrainConfig,
  type ConfigOverrides,
} from "./config.js";
export { saveCheckpoint, loadCheckpoint, findCheckpoint, type CheckpointState } from "./checkpoint.js";
export { createTrainStream, heldOutBatches, isHeldOut, type ImageCoder, type DataState } from "./data.js";
export { generate, sampleTokens, type GenerateParams, type GenerateRequest, type GenerateResult } from "./generate.js";
export { trainMultimodal, type TrainParams, type TrainResult, type TrainPlan } from "./train.js";
export { loadForGeneration, type LoadedModel } from "./load-model.js";
export { renderReport, lineChart, type MetricRecord, type ReportSample } from "./report.js";

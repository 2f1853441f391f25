// Public API of @laion/vq: a VQ image tokenizer (conv encoder → EMA vector quantiser → conv decoder) in TensorFlow.js.
export type { BackendName, DeviceInfo, SelectBackendParams, Tf } from "./backend.js";
export {
  BACKEND_ORDER,
  currentBackend,
  currentDevice,
  describeDevice,
  INSTALL_HINTS,
  selectBackend,
} from "./backend.js";
export type { CodeSample, CodeShardStats, CodeShardWriter } from "./code-shards.js";
export { CODES_EXT, createCodeShardWriter, isCodeSample, readCodeSample } from "./code-shards.js";
export type { VQConfig, VQPresetName } from "./config.js";
export { PRESET_LR, resolveConfig, VQ_PRESETS, validateConfig } from "./config.js";
export { encodeVqCodesCli } from "./encode-command.js";
export type {
  CodeShardsStatus,
  EncodeProgress,
  EncodeVqCodesParams,
  EncodeVqCodesResult,
} from "./encode-vq-codes.js";
export { codeShardName, codeShardsStatus, encodeVqCodes } from "./encode-vq-codes.js";
export { imageToFloat, reconstructionGrid } from "./images.js";
export { forwardFlops } from "./model.js";
export type { NpyArray, NpyIntDtype } from "./npy.js";
export { codeDtype, decodeNpy, encodeNpy } from "./npy.js";
export { codeUsage } from "./quantizer.js";
export { checkpointStep, vqManifestParams, vqStatus } from "./run-manifest.js";
export type { SafeTensor, SafetensorsDtype, TensorData } from "./safetensors.js";
export { decodeSafetensors, encodeSafetensors, loadSafetensors, saveSafetensors } from "./safetensors.js";
export type { ImageSample } from "./samples.js";
export { trainVqArgs } from "./to-args.js";
export { trainVisualVq } from "./train-command.js";
export type { EvalMetrics, TrainVQEvent, TrainVQParams, TrainVQResult } from "./train-vq.js";
export { optimPath, trainVQ } from "./train-vq.js";
export type { VqIdentity } from "./vq-identity.js";
export type { VQModel } from "./vq-model.js";
export { checkpointShapes, loadVQ, saveVQ, vqCheckpointIdentity } from "./vq-model.js";
export { registerWasmKernels } from "./wasm-kernels.js";
// data-parallel training over worker threads (trainer-2b's trainer uses these too)
export {
  availableCores,
  serveRequests,
  shardBounds,
  WorkerClient,
  WorkerPool,
  workerEntry,
} from "./worker-pool.js";

// Public API of @laion/vq: a VQ image tokenizer (conv encoder → EMA vector quantiser → conv decoder) in
// TensorFlow.js — train it, load it, encode images to code shards — plus the pieces other packages
// build on (backend choice, the safetensors codec, the worker pool of data-parallel training). Named one
// by one; everything else stays internal (tests import it from src/).

// Backends.
export type { BackendName, DeviceInfo, SelectBackendParams, Tf } from "./backend.js";
export { BACKEND_ORDER, currentBackend, currentDevice, describeDevice, selectBackend } from "./backend.js";
// Code shards: images encoded once, read by the trainer.
export type { CodeSample, CodeShardSample } from "./code-shards.js";
export { CODES_EXT, isCodeSample, readCodeSample } from "./code-shards.js";
// Training, config and the run manifest the app asks before rerunning.
export type { VQConfig, VQPresetName } from "./config.js";
export { resolveConfig, VQ_PRESETS, validateConfig } from "./config.js";
// The device flags the tfjs bins share (trainer-2b's train-multimodal takes the same --threads).
export { devicesOption, threadsOption } from "./device-flags.js";
export type {
  CodeShardsStatus,
  EncodeProgress,
  EncodeVqCodesParams,
  EncodeVqCodesResult,
} from "./encode-vq-codes.js";
export { codeShardsStatus, encodeVqCodes } from "./encode-vq-codes.js";
// Host buffers a data-parallel step reuses (shared with worker threads), and reads from the wasm heap.
export { assignFrom, heapView, isShared, readAllInto, readInto, stepBuffer } from "./host-buffers.js";
export { imageToFloat } from "./images.js";
export { releaseSpooled, SPOOL_MIN_BYTES, spoolRoot } from "./ipc-spool.js";
export { tensorOverflow } from "./memory-preflight.js";
export { forwardFlops } from "./model.js";
export { CUDA_LIBRARIES } from "./node-gpu.js";
export type { NpyArray, NpyIntDtype } from "./npy.js";
export { decodeNpy, encodeNpy } from "./npy.js";
export { codeUsage } from "./quantizer.js";
export { checkpointStep, vqStatus } from "./run-manifest.js";
// The one safetensors codec of the workspace (trainer-2b's checkpoints use it too).
export type { SafeTensor, SafetensorsDtype, TensorData } from "./safetensors.js";
export { decodeSafetensors, encodeSafetensors, loadSafetensors, saveSafetensors } from "./safetensors.js";
export { trainVqArgs } from "./to-args.js";
export { trainVQ } from "./train-vq.js";
export type { EvalMetrics, TrainVQEvent, TrainVQParams, TrainVQResult } from "./train-vq-params.js";
// The trained model.
export type { VqIdentity } from "./vq-identity.js";
export type { VQModel } from "./vq-model.js";
export { loadVQ, saveVQ, vqCheckpointIdentity } from "./vq-model.js";
// Data-parallel training over worker threads or device processes (trainer-2b's trainer runs its steps
// on the same pool).
export type { HelperKind, Lap, PhaseProfile } from "./worker-pool.js";
export {
  addStep,
  dataParallel,
  gradientBuffer,
  keptPayload,
  nvidiaGpus,
  parentChannel,
  phaseClock,
  phaseProfile,
  pinFirstDevice,
  plannedDevices,
  serveRequests,
  shardBounds,
  stepAnswer,
  trainingThreads,
  WorkerPool,
  workerEntry,
} from "./worker-pool.js";

// Public API of @laion/vq: a VQ image tokenizer (conv encoder → EMA vector quantiser → conv decoder) in TensorFlow.js.
export type { BackendName, DeviceInfo, SelectBackendParams, Tf } from "./backend.js";
export { BACKEND_ORDER, currentBackend, currentDevice, describeDevice, selectBackend } from "./backend.js";
export type { VQConfig, VQPresetName } from "./config.js";
export { PRESET_LR, resolveConfig, VQ_PRESETS, validateConfig } from "./config.js";
export type { ImageSample } from "./data.js";
export { imageToFloat, reconstructionGrid } from "./images.js";
export { forwardFlops } from "./model.js";
export { codeUsage } from "./quantizer.js";
export type { SafeTensor, SafetensorsDtype, TensorData } from "./safetensors.js";
export { decodeSafetensors, encodeSafetensors, loadSafetensors, saveSafetensors } from "./safetensors.js";
export { trainVisualVq } from "./train-cli.js";
export type { EvalMetrics, TrainVQEvent, TrainVQParams, TrainVQResult } from "./train-vq.js";
export { optimPath, trainVQ } from "./train-vq.js";
export type { VQModel } from "./vq-model.js";
export { checkpointShapes, loadVQ, saveVQ } from "./vq-model.js";
export { registerWasmKernels } from "./wasm-kernels.js";

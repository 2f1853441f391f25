// Which backend `nx run trainer:kaggle` will train on, and why: @laion/vq's own backend chain
// (selectBackend: tfjs-node-gpu → webgpu on a hardware adapter → tfjs-node → wasm → cpu), run once
// here so the notebook shows it before hours of training. Exit 1 when the chain refuses (tfjs-node-gpu
// loaded but TensorFlow sees no GPU: the message names the missing CUDA 11 libraries) or when
// `--expect-gpu` is given and the chosen backend is not a GPU one.
//
//   node apps/trainer/kaggle/probe-backend.mjs [--expect-gpu]     (after `npx nx run @laion/vq:build`)
import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const dist = path.join(root, "packages/vq/dist/index.js");
if (!existsSync(dist)) {
  console.error(`probe-backend: ${dist} is not built; run npx nx run @laion/vq:build first`);
  process.exit(1);
}
const { dataParallel, describeDevice, nvidiaGpus, plannedDevices, selectBackend } = await import(
  pathToFileURL(dist).href
);

const GPU_BACKENDS = ["tfjs-node-gpu", "webgpu"];
let device;
try {
  ({ device } = await selectBackend());
} catch (err) {
  console.error(`probe-backend: ${err.message}`);
  process.exit(1);
}
console.log(`probe-backend: ${describeDevice(device)}`);
const gpu = GPU_BACKENDS.includes(device.backend) && !device.software;
// the defaults of train-visual-vq / train-multimodal: one process per GPU nvidia-smi lists on a GPU
// backend (--devices), one wasm worker thread per core on wasm (--threads), else 1
const gpus = nvidiaGpus();
const { count, kind } = dataParallel(device.backend, {}, gpus.length);
const how = {
  wasm: `the CPU: wasm, ${os.availableParallelism()} threads (data-parallel workers, one per core)`,
  "tfjs-node": "the CPU: libtensorflow's own thread pool (threads: 1)",
  cpu: "the CPU: plain JavaScript (threads: 1)",
};
const where =
  kind === "process"
    ? `${count} GPUs, one process each (--devices ${count}; gradients summed every step)`
    : gpu
      ? "one GPU (threads: 1)"
      : how[device.backend];
console.log(`probe-backend: training runs on ${where}`);
if (kind === "process")
  for (const line of plannedDevices(count, describeDevice(device), device.backend, gpus))
    console.log(`probe-backend:   ${line}`);
if (process.argv.includes("--expect-gpu") && !gpu) {
  console.error(
    "probe-backend: a GPU is attached but no GPU backend loaded (see the reason above and docs/kaggle.md)",
  );
  process.exit(1);
}

import type { DeviceInfo } from "./backend.js";
import type { VQConfig } from "./config.js";
import { activationBytes, convShapes } from "./model.js";
import { shardBounds } from "./worker-pool.js";

/** What one wasm instance can address (wasm32); tfjs-backend-wasm lets its memory grow up to it. */
export const WASM_HEAP_BYTES = 2 ** 32;

/**
 * Heap a training step takes per image, over the image's forward activations (`activationBytes`): the
 * activations kept for the backward pass, their gradients, and XNNPACK's buffers. Fitted to the wasm
 * heap's size after two steps (tfjs-backend-wasm's memory never shrinks, so its size is the peak):
 * 256-f16-1k 795, 1,268, 1,961, 2,660 and 3,589 MiB at 1, 2, 4, 6 and 8 images (104 MiB of activations
 * each; 16 ended in "memory access out of bounds"), demo 172 and 298 MiB at 16 and 32 (2.2 MiB each).
 * The marginal cost was 3.3–4.5× the activations; 4.5 errs on the side of refusing.
 */
const HEAP_PER_ACTIVATION_BYTE = 4.5;
/** Weights, their gradients and Adam's two moments, float32. */
const WEIGHT_COPIES = 4;
/** The wasm module's own memory before any tensor: its initial 16 MiB, XNNPACK's caches, the allocator's slack. */
const RUNTIME_BYTES = 64 * 2 ** 20;

/** float32 parameters of the model: each conv's kernel and bias, and the codebook. */
function parameterCount(config: VQConfig): number {
  return convShapes(config).reduce((sum, l) => sum + l.k * l.k * l.cin * l.cout + l.cout, 0);
}

/** Estimated peak heap of one training step over `images` images on one wasm instance, bytes. */
export function stepHeapBytes(config: VQConfig, images: number): number {
  return (
    RUNTIME_BYTES +
    WEIGHT_COPIES * 4 * parameterCount(config) +
    HEAP_PER_ACTIVATION_BYTE * activationBytes(config) * images
  );
}

/** The most images one wasm instance's step can take within its heap (0 when not even one). */
export function maxImagesPerWasmShard(config: VQConfig): number {
  const perImage = HEAP_PER_ACTIVATION_BYTE * activationBytes(config);
  return Math.max(0, Math.floor((WASM_HEAP_BYTES - stepHeapBytes(config, 0)) / perImage));
}

const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(1)} GiB`;

/**
 * Refuses a wasm run whose largest shard (the batch split over `threads`, one wasm instance each) would
 * not fit in a wasm heap — it would otherwise end in tfjs-backend-wasm's "memory access out of bounds"
 * mid-step — and says which batch size or thread count fits.
 */
export function checkWasmHeap(config: VQConfig, batchSize: number, threads: number): void {
  const shard = Math.max(...shardBounds(batchSize, threads).map(([a, b]) => b - a));
  const need = stepHeapBytes(config, shard);
  if (need <= WASM_HEAP_BYTES) return;
  const fits = maxImagesPerWasmShard(config);
  const split = threads > 1 ? ` split over ${threads} threads` : "";
  throw new Error(
    `batch size ${batchSize}${split} (--batch-size, --threads): a training step of ${shard} ` +
      `${config.imageSize} px images (channels ${config.channels.join("/")}) needs about ${gib(need)} of wasm heap, and one wasm instance addresses ` +
      `${gib(WASM_HEAP_BYTES)}. ` +
      (fits === 0
        ? "Not even one image fits: use a GPU backend (--backend webgpu or tfjs-node-gpu)."
        : `At most ${fits} images fit per thread: use --batch-size ${fits * threads} or less, more ` +
          `--threads (batch ${batchSize} needs ${Math.ceil(batchSize / fits)}), or a GPU backend.`),
  );
}

/**
 * The largest single float32 tensor of a training step over `images` images: the input, a conv's
 * output, an upsampled decoder input, or the distances to every code. Its gradient has the same size,
 * and on webgpu each lives in one buffer (tfjs-backend-webgpu's convs are implicit GEMMs: no im2col
 * buffer bigger than these).
 */
export function largestStepTensor(config: VQConfig, images: number): { name: string; bytes: number } {
  const S = config.imageSize;
  const convs = convShapes(config);
  const grid = convs.at(-1) as { res: number; cout: number };
  const candidates = [{ name: `input images [${images}, ${S}, ${S}, 3]`, n: images * S * S * 3 }];
  for (const l of convs.slice(0, -1)) {
    candidates.push({
      name: `a conv's output [${images}, ${l.res}, ${l.res}, ${l.cout}]`,
      n: images * l.res ** 2 * l.cout,
    });
    if (l.upsampled)
      candidates.push({
        name: `an upsampled decoder input [${images}, ${l.res}, ${l.res}, ${l.cin}]`,
        n: images * l.res ** 2 * l.cin,
      });
  }
  const rows = images * grid.res ** 2;
  candidates.push({ name: `the distances to every code [${rows}, ${grid.cout}]`, n: rows * grid.cout });
  const top = candidates.reduce((a, b) => (b.n > a.n ? b : a));
  return { name: top.name, bytes: 4 * top.n };
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

/**
 * Where one buffer of the device holds at most `limit` bytes (webgpu: the adapter's limits; undefined
 * elsewhere): undefined when `largest(n)`, the largest tensor of a step over `n` examples, fits; else
 * what a refusal says — that tensor against the limit, and the most examples that fit (0: none).
 */
export function tensorOverflow(
  n: number,
  limit: number | undefined,
  largest: (n: number) => { name: string; bytes: number },
): { exceeds: string; limit: string; fits: number } | undefined {
  if (limit === undefined) return undefined;
  const top = largest(n);
  if (top.bytes <= limit) return undefined;
  let fits = n;
  while (fits > 0 && largest(fits).bytes > limit) fits--;
  return {
    exceeds: `${top.name} (${mib(top.bytes)}), exceeds what one buffer may hold`,
    limit: `${mib(limit)} (the adapter's maxStorageBufferBindingSize / maxBufferSize)`,
    fits,
  };
}

/**
 * Refuses a GPU run whose shard (the batch split over `devices` processes) has a tensor larger than one
 * buffer of the device may hold (webgpu: the adapter's maxStorageBufferBindingSize / maxBufferSize, as
 * granted) — it would otherwise fail at that op, mid-step — and says which batch size fits. Nothing to
 * check where no per-buffer limit is known (wasm: checkWasmHeap; tfjs-node-gpu, cpu).
 */
export function checkTensorFits(
  config: VQConfig,
  batchSize: number,
  devices: number,
  device: DeviceInfo,
): void {
  const shard = Math.max(...shardBounds(batchSize, devices).map(([a, b]) => b - a));
  const over = tensorOverflow(shard, device.maxTensorBytes, (n) => largestStepTensor(config, n));
  if (!over) return;
  const { fits } = over;
  const split = devices > 1 ? ` split over ${devices} devices` : "";
  throw new Error(
    `batch size ${batchSize}${split} (--batch-size, --devices): the largest tensor of a training step, ` +
      `${over.exceeds} on ${device.backend} on ${device.name}: ${over.limit}. ` +
      (fits === 0
        ? "Not even one image fits: use a smaller --preset."
        : `At most ${fits} images fit per device: use --batch-size ${fits * devices} or less` +
          (devices > 1 ? "." : ", or more --devices (one per GPU).")),
  );
}

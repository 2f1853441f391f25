import { existsSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect, test } from "vitest";
import { type BackendName, type TrainVQParams, trainVQ, type VQConfig } from "../src/index.js";
import { fixturePhotos, photoSamples } from "./helpers.js";
import { webgpuAvailable } from "./webgpu-helpers.js";

// A few real training steps on webgpu (in CI: Mesa's software Vulkan, ~1.4 GFLOP/s, hence the tiny
// model) must give the losses wasm gives for the same seed and data: both are float32, so they agree
// to rounding, stated here as 1e-3 relative over 3 Adam steps.

const tiny: Partial<VQConfig> = {
  imageSize: 16,
  downsample: 4,
  channels: [4, 8, 8],
  codebookSize: 8,
  codeDim: 4,
  restartAfter: 2,
};

test.runIf(await webgpuAvailable())(
  "3 VQ steps on webgpu match wasm (same seed, 1e-3 relative), checkpoint and eval included",
  async () => {
    const photos = await fixturePhotos();
    const dir = await mkdtemp(path.join(tmpdir(), "vq-webgpu-"));
    const run = async (backend: BackendName) => {
      const params: TrainVQParams = {
        out: path.join(dir, backend, "vq.safetensors"),
        backend,
        config: tiny,
        samples: photoSamples(photos, 3),
        evalImages: photos.slice(0, 2).map((p) => p.bytes),
        maxSteps: 3,
        batchSize: 2,
        seed: 4,
        lr: 3e-3,
      };
      const r = await trainVQ(params);
      r.model.dispose();
      return r;
    };
    const gpu = await run("webgpu");
    const cpu = await run("wasm");
    expect(gpu.backend).toBe("webgpu");
    expect(gpu.losses).toHaveLength(3);
    gpu.losses.forEach((l, i) => {
      expect(Math.abs(l - (cpu.losses[i] as number))).toBeLessThan(1e-3 * (cpu.losses[i] as number));
    });
    expect(Math.abs((gpu.lastEval?.psnr ?? 0) - (cpu.lastEval?.psnr ?? 0))).toBeLessThan(0.01);
  },
  300_000,
);

test.runIf(await webgpuAvailable())(
  "a batch with a tensor larger than one webgpu buffer is refused before any step, naming the flag and what fits",
  async () => {
    const photos = await fixturePhotos();
    const out = path.join(await mkdtemp(path.join(tmpdir(), "vq-webgpu-limit-")), "vq.safetensors");
    const run = trainVQ({
      out,
      backend: "webgpu",
      preset: "256-f16-1k", // 32 MiB an image in its largest tensor: 64 images outgrow any adapter's buffer here
      samples: photoSamples(photos, 3),
      evalImages: [photos[0]?.bytes as Uint8Array],
      maxSteps: 1,
      batchSize: 64,
      devices: 1,
      seed: 4,
    });
    await expect(run).rejects.toThrow(
      /batch size 64 \(--batch-size, --devices\): the largest tensor of a training step, an upsampled decoder input \[64, 256, 256, 128\] \(2048 MiB\), exceeds what one buffer may hold on webgpu on .*At most \d+ images fit per device/,
    );
    expect(existsSync(out)).toBe(false);
  },
  120_000,
);

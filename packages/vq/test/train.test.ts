import { mkdtemp, readFile, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import sharp from "sharp";
import { beforeAll, describe, expect, test } from "vitest";
import {
  encodeSafetensors,
  imageToFloat,
  loadSafetensors,
  loadVQ,
  selectBackend,
  type TrainVQResult,
  trainVQ,
} from "../src/index.js";
import { optimPath } from "../src/train-vq.js";
import { fixturePhotos, photoSamples, small } from "./helpers.js";

let dir: string;
let out: string;
let photos: Awaited<ReturnType<typeof fixturePhotos>>;
let trained: TrainVQResult;
const events: string[] = [];

beforeAll(async () => {
  await selectBackend({ prefer: "wasm" });
  dir = await mkdtemp(path.join(tmpdir(), "vq-train-"));
  out = path.join(dir, "model_output", "visual_vq.pt");
  photos = await fixturePhotos();
  trained = await trainVQ({
    out,
    config: small,
    samples: photoSamples(photos, 100),
    evalImages: photos.map((p) => p.bytes),
    maxSteps: 20,
    evalEvery: 10,
    batchSize: 8,
    lr: 3e-3,
    warmupSteps: 3,
    seed: 3,
    onEvent: (e) => events.push(e.type),
  });
}, 120_000);

describe("trainVQ on real photos", () => {
  test("a 20-step run lowers the loss and reports events", () => {
    expect(trained.steps).toBe(20);
    expect(trained.losses).toHaveLength(20);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(trained.losses.slice(-5))).toBeLessThan(0.7 * mean(trained.losses.slice(0, 5)));
    expect(events[0]).toBe("start");
    expect(events).toContain("kmeans");
    expect(events.filter((e) => e === "eval")).toHaveLength(2);
    expect(events.at(-1)).toBe("done");
    expect(trained.backend).toBe("wasm");
  });

  test("writes the checkpoint (safetensors even as .pt), sidecar, optimizer state, metrics.jsonl and a recon grid", async () => {
    const ckpt = await loadSafetensors(out);
    expect(ckpt.metadata.format).toBe("laion-vq");
    expect(ckpt.metadata.step).toBe("20");
    expect(JSON.parse(ckpt.metadata.config as string).codebookSize).toBe(32);
    expect(JSON.parse(await readFile(`${out}.json`, "utf8")).config.imageSize).toBe(32);
    expect((await loadSafetensors(optimPath(out))).tensors["adam.m.enc.in.w"]?.shape).toEqual([3, 3, 3, 16]);
    const lines = (await readFile(path.join(path.dirname(out), "metrics.jsonl"), "utf8"))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.step)).toEqual([10, 20]);
    for (const l of lines) {
      expect(l.psnr).toBeGreaterThan(5);
      expect(l.usage).toBeGreaterThan(0);
      expect(l.perplexity).toBeGreaterThanOrEqual(1);
    }
    const grid = await sharp(lines[1].grid).metadata();
    expect([grid.width, grid.height]).toEqual([7 * 32 + 8 * 2, 2 * 32 + 3 * 2]); // originals above, reconstructions below
  });

  test("encode/decode shapes and ranges; bytes → codes → PNG", async () => {
    const vq = trained.model;
    expect([vq.gridSize, vq.tokensPerImage, vq.codebookSize]).toEqual([4, 16, 32]);
    const n = 3;
    const images = new Float32Array(n * 32 * 32 * 3);
    for (let i = 0; i < n; i++)
      images.set(await imageToFloat(photos[i]?.bytes as Uint8Array, 32), i * 32 * 32 * 3);
    const codes = await vq.encode(images, n);
    expect(codes).toBeInstanceOf(Int32Array);
    expect(codes.length).toBe(n * 16);
    expect(codes.every((c) => c >= 0 && c < 32)).toBe(true);
    const recon = await vq.decode(codes, n);
    expect(recon.length).toBe(images.length);
    expect(recon.every((v) => v >= 0 && v <= 1)).toBe(true);
    const fromBytes = await vq.encodeImageBytes(photos.slice(0, n).map((p) => p.bytes));
    expect(fromBytes.map((c) => Array.from(c))).toEqual(
      [0, 1, 2].map((i) => Array.from(codes.slice(i * 16, (i + 1) * 16))),
    );
    const png = await vq.decodeToPng(fromBytes[0] as Int32Array);
    const meta = await sharp(png).metadata();
    expect([meta.format, meta.width, meta.height, meta.channels]).toEqual(["png", 32, 32, 3]);
    await expect(
      vq.decode(
        Int32Array.from({ length: 16 }, () => 99),
        1,
      ),
    ).rejects.toThrow(/code 99 is outside \[0, 32\)/);
  });

  test("checkpoint save → loadVQ → identical codes", async () => {
    const loaded = await loadVQ(out);
    const bytes = photos.map((p) => p.bytes);
    expect((await loaded.encodeImageBytes(bytes)).map((c) => Array.from(c))).toEqual(
      (await trained.model.encodeImageBytes(bytes)).map((c) => Array.from(c)),
    );
    loaded.dispose();
  });

  test("a checkpoint that does not match its config is rejected naming the tensor", async () => {
    const ckpt = await loadSafetensors(out);
    const cfg = JSON.parse(ckpt.metadata.config as string);
    const bad = path.join(dir, "bad.pt");
    const { writeFile } = await import("node:fs/promises");
    await writeFile(
      bad,
      encodeSafetensors(ckpt.tensors, {
        ...ckpt.metadata,
        config: JSON.stringify({ ...cfg, codebookSize: 64 }),
      }),
    );
    await expect(loadVQ(bad)).rejects.toThrow(
      /bad\.pt: tensor "quant\.codebook" has shape \[32,8\] but the config needs \[64,8\]/,
    );
    const { "dec.out.w": _, ...missing } = ckpt.tensors;
    await writeFile(bad, encodeSafetensors(missing, ckpt.metadata));
    await expect(loadVQ(bad)).rejects.toThrow(/bad\.pt: missing tensor "dec\.out\.w"/);
  });

  test("--resume continues from the saved step with the optimizer state", async () => {
    const resumed = await trainVQ({
      out,
      samples: photoSamples(photos, 100),
      evalImages: photos.map((p) => p.bytes),
      maxSteps: 22,
      batchSize: 4,
      resume: true,
      seed: 3,
    });
    expect(resumed.steps).toBe(22);
    expect(resumed.losses).toHaveLength(2);
    expect((await loadSafetensors(out)).metadata.step).toBe("22");
    expect((await stat(optimPath(out))).size).toBeGreaterThan(0);
    resumed.model.dispose();
  });
});

describe("argument errors", () => {
  test("--laion-tars without --max-steps is refused before any work", async () => {
    await expect(
      trainVQ({ out: path.join(tmpdir(), "never.pt"), laionTars: "data/laion/{00000..00001}.tar" }),
    ).rejects.toThrow(/--laion-tars streams LAION forever.*--max-steps is required/);
  });

  test("--resume without a checkpoint names the path", async () => {
    await expect(
      trainVQ({ out: path.join(dir, "nothing.pt"), samples: photoSamples(photos, 1), resume: true }),
    ).rejects.toThrow(/--resume: no checkpoint at .*nothing\.pt/);
  });
});

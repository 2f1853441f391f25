import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fixturePath, runCaptured } from "@laion/test-servers";
import { expect, test } from "vitest";
import { loadSafetensors } from "../src/index.js";
import { trainVisualVq } from "../src/train-command.js";

/** The bin run in-process: stdout, stderr and the exit code it set. */
const run = (...args: string[]) => runCaptured(trainVisualVq, args);

/** A run that must fail: its stderr, after checking the exit code. */
async function fails(...args: string[]): Promise<string> {
  const r = await run(...args);
  expect(r.code).toBe(1);
  return r.err;
}

test("--laion-tars without --max-steps is a clear error", async () => {
  expect(await fails("--laion-tars", "data/laion/webdataset", "--out", "x.pt")).toContain(
    "--laion-tars streams LAION forever (resampled), so --max-steps is required with it",
  );
});

test("bad flag values name the flag", async () => {
  expect(await fails("--captions", "c.json", "--backend", "tpu")).toMatch(
    /--backend must be one of tfjs-node-gpu, webgpu, tfjs-node, wasm, cpu, got "tpu"/,
  );
  expect(await fails("--captions", "c.json", "--laion-prob", "1.5")).toMatch(
    /--laion-prob must be a number between 0 and 1/,
  );
});

test("trains from captions.json + YAML config through @laion/shards and writes a .pt (safetensors) checkpoint", async () => {
  const dir = await mkdtemp(path.join(tmpdir(), "vq-cli-"));
  const yaml = path.join(dir, "vq.yaml");
  await writeFile(
    yaml,
    [
      "image_size: 32",
      "batch_size: 4",
      "eval-every: 2",
      "seed: 1",
      "model:",
      "  channels: [8, 8, 16, 16]",
      "  codebook_size: 16",
      "  code_dim: 8",
      "",
    ].join("\n"),
  );
  const out = path.join(dir, "visual_vq.pt");
  const trained = await run(
    "--captions",
    fixturePath("explicit_media/captions.json"),
    "--image-root",
    fixturePath("explicit_media"),
    "--config",
    yaml,
    "--max-steps",
    "2",
    "--out",
    out,
    "--backend",
    "wasm",
    "--json",
  );
  expect(trained.code).toBe(0);
  const { metadata } = await loadSafetensors(out);
  expect(metadata.step).toBe("2");
  expect(JSON.parse(metadata.config as string)).toMatchObject({
    imageSize: 32,
    codebookSize: 16,
    channels: [8, 8, 16, 16],
  });
  const metrics = (await readFile(path.join(dir, "metrics.jsonl"), "utf8")).trim().split("\n");
  expect(JSON.parse(metrics[0] as string)).toMatchObject({ step: 2, backend: "wasm" });
});

test("an unknown YAML key is named", async () => {
  const dir = await mkdtemp(path.join(tmpdir(), "vq-cli-"));
  const yaml = path.join(dir, "bad.yaml");
  await writeFile(yaml, "learning_rate: 0.1\n");
  expect(await fails("--captions", "c.json", "--config", yaml)).toMatch(
    /bad\.yaml: unknown key learning_rate \(allowed in the top level: captions, imageRoot, /,
  );
});

test("the YAML's model mapping rejects unknown keys, and values of the wrong type are named", async () => {
  const dir = await mkdtemp(path.join(tmpdir(), "vq-cli-"));
  const yaml = path.join(dir, "bad.yaml");
  await writeFile(yaml, "max_steps: two\nmodel:\n  codebook_size: 64\n  code_dims: 8\n");
  const error = await fails("--captions", "c.json", "--config", yaml);
  expect(error).toMatch(/bad\.yaml: max_steps: Invalid input: expected number, received string/);
  expect(error).toMatch(
    /unknown key model\.code_dims \(allowed in model: imageSize, downsample, codebookSize, codeDim,/,
  );
});

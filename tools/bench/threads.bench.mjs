// wasm on 1 vs N cores: VQ training images/s and trainer tokens/s with `threads` 1 and N (data-parallel
// worker threads, one wasm instance each), in the same process, on the same data; and the model's
// FLOP/s as a share of the machine's fp32 peak (`--peak-gflops`, default 190: 2 cores here).
// The trainer runs twice: batch 8 × grad_accum 1 (each micro-batch's rows split across the threads) and
// batch 4 × grad_accum 2 (the same 8 rows a step, a whole micro-batch per thread). Then the ceiling:
// N independent 1-thread trainers at once (no communication at all), their summed tokens/s over one
// alone — what the cores give when nothing is shared. The N-thread runs print where a step's time went.
// 5 minutes at load ~20 on this 2-core machine (session 4); a quiet machine was not available to time it.
//
//   npx nx run-many -t build -p @laion/vq @laion/trainer-2b && node tools/bench/threads.bench.mjs [--threads 2] [--steps 6]
import { mkdtemp, readdir, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { parseConfig, trainMultimodal } from "../../packages/trainer-2b/dist/index.js";
import { forwardFlops, resolveConfig, selectBackend, trainVQ } from "../../packages/vq/dist/index.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const threads = arg("threads", 2);
const steps = arg("steps", 6);
const peak = arg("peak-gflops", 190) * 1e9;
const dir = path.join(root, "fixtures/images/originals");
const photos = await Promise.all(
  (await readdir(dir))
    .filter((f) => f.endsWith(".jpg"))
    .map((f) => readFile(path.join(dir, f)).then((b) => new Uint8Array(b))),
);
async function* samples() {
  for (let r = 0; ; r++)
    for (let i = 0; i < photos.length; i++) yield { __key__: `r${r}/${i}`, jpg: photos[i] };
}

/** VQ demo preset, batch 16: images/s over steps 2..n+1 (step 1 has k-means init and warm-up). */
async function vq(n) {
  let t0 = 0;
  let images = 0;
  const r = await trainVQ({
    out: path.join(await mkdtemp(path.join(tmpdir(), "vq-threads-")), "vq.pt"),
    samples: () => samples(),
    evalImages: [photos[0]],
    maxSteps: steps + 1,
    evalEvery: 1_000_000,
    batchSize: 16,
    preset: "demo",
    seed: 1,
    threads: n,
    onEvent: (e) => {
      if (e.type === "step" && e.step === 1) t0 = performance.now();
      else if (e.type === "step") images += 16;
    },
  });
  r.model.dispose();
  return images / ((performance.now() - t0) / 1000);
}

/** Trainer demo preset on the fixtures' text + captioned images (fake-free: a real VQ is not needed for text-only). */
async function trainer(n, batch = 8, accum = 1) {
  const out = await mkdtemp(path.join(tmpdir(), "trainer-threads-"));
  const config = parseConfig({
    output_dir: out,
    model: { preset: "demo" },
    data: { corpus: [path.join(root, "fixtures/sinhala/corpus.txt")] },
    training: {
      text_only_prob: 1,
      batch_size: batch,
      grad_accum: accum,
      max_steps: steps + 1,
      eval_every: 1000,
      checkpoint_every: 1000,
      threads: n,
      seed: 1,
    },
  });
  const r = await trainMultimodal({ config, log: () => {} });
  const train = r.records.filter((x) => x.type === "train").slice(1); // step 1: warm-up
  const p = r.profile;
  const perStep = (ms) => Math.round(ms / p.steps);
  return {
    tokensPerS: train.reduce((a, x) => a + x.tokens_per_s, 0) / train.length,
    params: r.plan.memory.params,
    // ms per step (the first, warm-up step left out)
    ...(p && {
      profile_ms_per_step: {
        broadcast: perStep(p.broadcastMs),
        main_thread_gradients: perStep(p.localMs),
        wait_for_workers: perStep(p.waitMs),
        worker_gradients: perStep(p.workerComputeMs),
        reduce: perStep(p.reduceMs),
        clip_adamw: perStep(p.applyMs),
      },
    }),
  };
}

/** N 1-thread trainers in N worker threads at once: their summed tokens/s. */
async function independent(n) {
  const runs = Array.from(
    { length: n },
    () =>
      new Promise((resolve, reject) => {
        const w = new Worker(new URL(import.meta.url), {
          workerData: { independent: true },
          argv: process.argv.slice(2),
        });
        w.once("message", resolve);
        w.once("error", reject);
      }),
  );
  return (await Promise.all(runs)).reduce((a, t) => a + t, 0);
}

if (!isMainThread && workerData?.independent) {
  await selectBackend({ prefer: "wasm" });
  parentPort.postMessage((await trainer(1)).tokensPerS);
  process.exit(0);
}

await selectBackend({ prefer: "wasm" });
const flopsPerImage = 3 * forwardFlops(resolveConfig(undefined, "demo")); // forward + backward ≈ 3× forward
const v1 = await vq(1);
const vN = await vq(threads);
const t1 = await trainer(1);
const tN = await trainer(threads);
const a1 = await trainer(1, 4, 2);
const aN = await trainer(threads, 4, 2);
const ceiling = await independent(threads);
const share = (flops) => `${((100 * flops) / peak).toFixed(1)} %`;
console.log(
  JSON.stringify(
    {
      threads,
      vq_images_per_s: { 1: v1, [threads]: vN, ratio: vN / v1 },
      vq_share_of_peak: { 1: share(v1 * flopsPerImage), [threads]: share(vN * flopsPerImage) },
      trainer_tokens_per_s: {
        1: t1.tokensPerS,
        [threads]: tN.tokensPerS,
        ratio: tN.tokensPerS / t1.tokensPerS,
        profile_ms_per_step: tN.profile_ms_per_step,
      },
      trainer_tokens_per_s_grad_accum_2: {
        1: a1.tokensPerS,
        [threads]: aN.tokensPerS,
        ratio: aN.tokensPerS / a1.tokensPerS,
        profile_ms_per_step: aN.profile_ms_per_step,
      },
      ceiling_independent_trainers: { [threads]: ceiling, ratio: ceiling / t1.tokensPerS },
      trainer_share_of_peak: {
        1: share(6 * t1.params * t1.tokensPerS),
        [threads]: share(6 * tN.params * tN.tokensPerS),
      },
    },
    null,
    2,
  ),
);

// wasm on 1 vs N cores: VQ training images/s and trainer tokens/s with `threads` 1 and N (data-parallel
// worker threads, one wasm instance each), in the same process, on the same data.
//
// Robust against a noisy machine: each configuration runs `--rounds` times, 1 and N threads alternating
// in order (1,N then N,1 …), each over `--steps` steps after `--warmup` uncounted ones; the ratio printed
// is the median of the rounds' ratios. Beside the wall-clock ratio it prints an **Amdahl bound from CPU
// time** (Linux per-thread scheduler clocks, which other processes do not move): on N free cores a step
// takes at least max(serial main-thread work + the slower shard's gradients, all of the process's CPU / N).
// The 1-thread step takes max(main-thread CPU, process CPU / N), so the ratio of the two is the speedup a
// quiet machine can give at best. The N-thread runs print their per-phase profile (CPU ms per step).
// Then, in the same run, the VM's own ceiling for each: one 1-thread run alone in a child process, then N
// of them in N processes at once (no communication, separate heaps), their summed rate over the one
// alone (`ceiling`; `--rounds` pairs, alternated, the median's figures); `of_ceiling` is the
// data-parallel ratio over the ceiling's, so a ratio below the goal can be told apart from a VM whose
// second core does not give it. FLOP/s as a share of the machine's fp32 peak (`--peak-gflops`, default
// 190: 2 cores). The load average at start and end.
//
// About 3 minutes on a quiet 2-core machine (131 s at 3d5f03a with 6 warm-up steps; 12 since session 7,
// ~30 s more); 189 s for `--rounds 1 --steps 6 --warmup 6` at load 8–15; `--only vq` 110 s at load 5 → 3
// (session 8), ~25 s more a round.
//
//   npx nx run-many -t build -p @laion/vq @laion/trainer-2b && node tools/bench/threads.bench.mjs [--threads 2] [--steps 8] [--warmup 12] [--rounds 3] [--only vq|trainer] [--vq-preset demo] [--vq-batch 16] [--helpers thread|process] [--trainer-preset demo] [--trainer-batch 16] [--grad-accum]

import { fork } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { benchFlags, fail, fixturePhotos, photoSamples, positiveInteger, ROOT } from "./bench-inputs.mjs";

const {
  threads,
  steps,
  warmup,
  rounds,
  peakGflops,
  only, // vq | trainer: one half of the benchmark
  gradAccum,
  trainerBatch,
  trainerPreset,
  vqPreset,
  vqBatch,
  helpers,
  independent,
} = benchFlags({
  threads: { type: "number", default: 2 },
  steps: { type: "number", default: 8 },
  // > PROFILE_WARMUP_STEPS (11): the profiles and the CPU windows cover the same steps (6 until
  // session 7: the second isolate's JIT and GC were still settling, see PROFILE_WARMUP_STEPS)
  warmup: { type: "number", default: 12 },
  rounds: { type: "number", default: 3 },
  "peak-gflops": { type: "number", default: 190 },
  only: { type: "string" },
  // the trainer's batch: 16 is what configs/demo.yaml and configs/grounded.yaml train with (8 until
  // session 7; each thread's shard pays a fixed ~90 ms of tfjs bookkeeping, so a smaller batch scales worse)
  // --grad-accum halves it: an odd batch would give a fractional micro-batch
  "trainer-batch": {
    type: "number",
    default: 16,
    check: (b, f) =>
      positiveInteger(b) ??
      (f.gradAccum && b % 2 ? "must be even with --grad-accum (it runs batch/2 × 2)" : undefined),
  },
  // the trainer's model preset: demo (what configs/demo.yaml and grounded.yaml train) by default; a larger
  // one (small: configs/kaggle.yaml's wasm fallback) puts more arithmetic behind each shard's fixed cost
  "trainer-preset": { type: "string", default: "demo" },
  // the VQ's preset and batch: demo (64 px, what `npm run demo` trains) at 16 by default; configs/kaggle.yaml
  // trains 256-f16-1k at 16, where each shard's fixed cost weighs less against ~16× the arithmetic
  "vq-preset": { type: "string", default: "demo" },
  "vq-batch": { type: "number", default: 16, check: positiveInteger },
  // also the trainer at batch/2 × grad_accum 2 (a whole micro-batch per thread)
  "grad-accum": { type: "boolean" },
  // how the N-thread runs share a step: worker threads (--threads, the wasm default) or child processes
  // (--devices, one per GPU on Kaggle; here each on wasm). With processes the CPU figures cover this
  // process only: the helpers' own shard CPU comes from their answers (helper_gradients)
  helpers: {
    type: "string",
    default: "thread",
    check: (v) => (["thread", "process"].includes(v) ? undefined : "must be thread or process"),
  },
  // internal: this process is one of the ceiling's independent 1-thread runs (vq | trainer)
  independent: { type: "string" },
});
// after the flags, so a bad flag is refused at once (and without a build: tools/test/bench-flags.test.ts)
const { parseConfig, PRESET_NAMES, trainMultimodal } = await import(
  "../../packages/trainer-2b/dist/index.js"
);
const { forwardFlops, resolveConfig, selectBackend, trainVQ, VQ_PRESETS } = await import(
  "../../packages/vq/dist/index.js"
);
if (!Object.hasOwn(VQ_PRESETS, vqPreset))
  fail(`--vq-preset must be one of ${Object.keys(VQ_PRESETS).join(", ")}, got ${vqPreset}`);
if (!PRESET_NAMES.includes(trainerPreset))
  fail(`--trainer-preset must be one of ${PRESET_NAMES.join(", ")}, got ${trainerPreset}`);
const peak = peakGflops * 1e9;
const photos = await fixturePhotos();

/**
 * CPU ms run so far by the main thread, by the whole process (every thread) and by each thread (by
 * thread id), from Linux's schedstat.
 */
function cpu() {
  const ms = (file) => Number(readFileSync(file, "utf8").split(" ")[0]) / 1e6;
  let all = 0;
  const tasks = {};
  for (const t of readdirSync("/proc/self/task")) {
    try {
      tasks[t] = ms(`/proc/self/task/${t}/schedstat`);
      all += tasks[t];
    } catch {
      // a thread that ended between the listing and the read
    }
  }
  return { wall: performance.now(), main: tasks[process.pid] ?? 0, all, tasks };
}

/** Calls `at(step)` per finished step; measures the window from step `warmup` to `warmup + steps`. */
function windowOf() {
  let start;
  let end;
  return {
    at(step) {
      if (step === warmup) start = cpu();
      if (step === warmup + steps) end = cpu();
    },
    /**
     * Per step: wall, main-thread CPU and process CPU, ms; and `helpers`, the CPU of the `threads - 1`
     * busiest other threads — the worker threads (each runs a shard of every step; V8's compiler and
     * GC threads run a small fraction of that).
     */
    perStep(n) {
      const per = (k) => (end[k] - start[k]) / steps;
      const others = Object.keys(end.tasks)
        .filter((t) => t !== String(process.pid))
        .map((t) => (end.tasks[t] - (start.tasks[t] ?? 0)) / steps)
        .sort((a, b) => b - a);
      const helpers = others.slice(0, n - 1).reduce((a, b) => a + b, 0);
      return { wall: per("wall"), main: per("main"), all: per("all"), helpers };
    },
  };
}

/** ms per step of each profiled phase (CPU time of the main thread) and of the slowest helper's gradients. */
function profilePerStep(p) {
  if (!p?.steps) return undefined;
  const out = {};
  for (const [k, lap] of Object.entries(p.phases)) out[k] = Math.round(lap.cpuMs / p.steps);
  out.helper_gradients = Math.round(p.helper.cpuMs / p.steps);
  return out;
}

/**
 * The speedup N free cores could give, from CPU time: t1 = max(main, all / N) for the 1-thread run,
 * tN = max(serial + max(local, helper), all / N) for the N-thread run, where serial is the main thread's
 * CPU outside its own shard of the gradients.
 */
function amdahl(one, many) {
  const p = many.profile;
  const local = p.phases.local.cpuMs / p.steps;
  const helper = p.helper.cpuMs / p.steps;
  const serial = many.cpu.main - local;
  const t1 = Math.max(one.cpu.main, one.cpu.all / threads);
  const tN = Math.max(serial + Math.max(local, helper), many.cpu.all / threads);
  return {
    bound: t1 / tN,
    one_thread_ms: { main: Math.round(one.cpu.main), other_threads: Math.round(one.cpu.all - one.cpu.main) },
    [`${threads}_threads_ms`]: {
      main_serial: Math.round(serial),
      main_gradients: Math.round(local),
      helper_gradients: Math.round(helper),
      other_threads: Math.round(many.cpu.all - many.cpu.main - helper),
      // of which: the worker threads outside their gradients (taking the weights, messages), and the
      // rest of the process (V8's compiler and GC threads, libuv)
      helper_outside_gradients: Math.round(many.cpu.helpers - helper * (threads - 1)),
      v8_and_other: Math.round(many.cpu.all - many.cpu.main - many.cpu.helpers),
    },
  };
}

/** How `n` helpers share a step (`--helpers`): `threads`, or `devices` for child processes. */
const parallelism = (n) => (helpers === "process" && n > 1 ? { devices: n } : { threads: n });

/** VQ at `--vq-preset` and `--vq-batch`: images/s and CPU per step over the window. */
async function vq(n) {
  const w = windowOf();
  const r = await trainVQ({
    out: path.join(await mkdtemp(path.join(tmpdir(), "vq-threads-")), "vq.pt"),
    samples: () => photoSamples(photos),
    evalImages: [photos[0]],
    maxSteps: warmup + steps,
    evalEvery: 1_000_000,
    batchSize: vqBatch,
    preset: vqPreset,
    seed: 1,
    ...parallelism(n),
    onEvent: (e) => e.type === "step" && w.at(e.step),
  });
  r.model.dispose();
  const c = w.perStep(n);
  return { rate: (vqBatch * 1000) / c.wall, cpu: c, profile: r.profile };
}

/** Trainer at `--trainer-preset` on the fixtures' Sinhala text: tokens/s and CPU per step over the window. */
async function trainer(n, batch, accum) {
  const w = windowOf();
  const config = parseConfig({
    output_dir: await mkdtemp(path.join(tmpdir(), "trainer-threads-")),
    model: { preset: trainerPreset },
    data: { corpus: [path.join(ROOT, "fixtures/sinhala/corpus.txt")] },
    training: {
      text_only_prob: 1,
      batch_size: batch,
      grad_accum: accum,
      max_steps: warmup + steps,
      eval_every: 1000,
      checkpoint_every: 1000,
      ...parallelism(n),
      // wasm by name: "auto" would first probe for a webgpu adapter (a Dawn instance in this process)
      backend: "wasm",
      seed: 1,
    },
  });
  let perStepRates = 0;
  const r = await trainMultimodal({
    config,
    log: () => {},
    onStep: (record) => {
      w.at(record.step);
      if (record.step > warmup) perStepRates += record.tokens_per_s;
    },
  });
  const c = w.perStep(n);
  const seqLen = r.plan.model.seqLen;
  return {
    rate: (batch * accum * seqLen * 1000) / c.wall,
    cpu: c,
    profile: r.profile,
    params: r.plan.memory.params,
    meanStepRate: perStepRates / steps,
  };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/**
 * `rounds` rounds of `one()` and `many()`, alternating which goes first (the machine drifts over
 * minutes): each round's results and rate ratio (`rateOf`), and the index of the median round.
 */
async function alternated(one, many, rateOf) {
  const all = [];
  for (let i = 0; i < rounds; i++) {
    const r = {};
    if (i % 2 === 0) {
      r.one = await one();
      r.many = await many();
    } else {
      r.many = await many();
      r.one = await one();
    }
    all.push({ ...r, ratio: rateOf(r.many) / rateOf(r.one) });
  }
  return { all, mid: all.indexOf([...all].sort((a, b) => a.ratio - b.ratio)[all.length >> 1]) };
}

/** run(1) and run(N) over `rounds` alternated rounds; the median round's figures. */
async function compare(run) {
  const { all, mid } = await alternated(
    () => run(1),
    () => run(threads),
    (x) => x.rate,
  );
  const bounds = all.map((r) => amdahl(r.one, r.many));
  return {
    1: all[mid].one.rate,
    [threads]: all[mid].many.rate,
    ratio_median: median(all.map((r) => r.ratio)),
    ratios: all.map((r) => Number(r.ratio.toFixed(3))),
    amdahl_bound_median: median(bounds.map((b) => b.bound)),
    amdahl_bounds: bounds.map((b) => Number(b.bound.toFixed(3))),
    cpu_ms_per_step: bounds[mid],
    profile_cpu_ms_per_step: profilePerStep(all[mid].many.profile),
    rounds: all,
  };
}

/** One 1-thread run of `kind` (vq | trainer) in a child process of this script: its rate over the window. */
function childRun(kind) {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), [...process.argv.slice(2), "--independent", kind], {
      stdio: ["ignore", "ignore", "inherit", "ipc"],
    });
    let rate;
    child.once("message", (m) => {
      rate = m;
    });
    child.once("error", reject);
    child.once("exit", (code) =>
      rate === undefined ? reject(new Error(`${kind} child exited with ${code}`)) : resolve(rate),
    );
  });
}

/**
 * The VM's own ceiling: one 1-thread run alone in a process, and N of them in N processes at once (no
 * communication, separate heaps and collectors); their summed rate over the one alone. `--rounds`
 * rounds alternating which goes first, as `compare` does, and the median round's figures: a single pair
 * read anywhere from 1.6× to 2.2× on session 11's VM, whose speed drifts by a quarter over minutes.
 */
async function ceiling(kind, n) {
  const together = async () =>
    (await Promise.all(Array.from({ length: n }, () => childRun(kind)))).reduce((a, r) => a + r, 0);
  const { all, mid } = await alternated(
    () => childRun(kind),
    together,
    (rate) => rate,
  );
  return {
    1: all[mid].one,
    [n]: all[mid].many,
    ratio: median(all.map((x) => x.ratio)),
    ratios: all.map((x) => Number(x.ratio.toFixed(3))),
  };
}

if (independent) {
  await selectBackend({ prefer: "wasm" });
  const r = independent === "vq" ? await vq(1) : await trainer(1, trainerBatch, 1);
  process.send(r.rate);
  process.exit(0);
}

const t0 = performance.now();
const loadAtStart = loadavg();
await selectBackend({ prefer: "wasm" });
const flopsPerImage = 3 * forwardFlops(resolveConfig(undefined, vqPreset)); // forward + backward ≈ 3× forward
const v = only === "trainer" ? undefined : await compare((n) => vq(n));
const vCeiling = only === "trainer" ? undefined : await ceiling("vq", threads);
const t = only === "vq" ? undefined : await compare((n) => trainer(n, trainerBatch, 1));
const a = only === "vq" || !gradAccum ? undefined : await compare((n) => trainer(n, trainerBatch / 2, 2));
const tCeiling = only === "vq" ? undefined : await ceiling("trainer", threads);
const share = (flops) => `${((100 * flops) / peak).toFixed(1)} %`;
const brief = ({ rounds: _, ...rest }, c) => ({
  ...rest,
  ceiling: c,
  of_ceiling: rest.ratio_median / c.ratio,
});
const load = (l) => l.map((x) => Number(x.toFixed(2)));
console.log(
  JSON.stringify(
    {
      threads,
      helpers,
      steps,
      warmup,
      rounds,
      ...(v && {
        vq: { preset: vqPreset, batch: vqBatch },
        vq_images_per_s: brief(v, vCeiling),
        vq_share_of_peak: { 1: share(v[1] * flopsPerImage), [threads]: share(v[threads] * flopsPerImage) },
      }),
      ...(t && {
        trainer: { preset: trainerPreset, batch: trainerBatch },
        [`trainer_tokens_per_s_batch_${trainerBatch}x1`]: brief(t, tCeiling),
        ...(a && { [`trainer_tokens_per_s_batch_${trainerBatch / 2}x2`]: brief(a, tCeiling) }),
        trainer_share_of_peak: {
          1: share(6 * t.rounds[0].one.params * t[1]),
          [threads]: share(6 * t.rounds[0].one.params * t[threads]),
        },
      }),
      load_average: { start: load(loadAtStart), end: load(loadavg()) },
      seconds: Math.round((performance.now() - t0) / 1000),
    },
    null,
    2,
  ),
);

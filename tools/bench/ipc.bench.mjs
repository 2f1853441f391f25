// Device processes (`--devices`, one per GPU): what a step's transport costs — the weights to a child
// process and gradients as large back — at the sizes of the trainer's presets. Baseline: the IPC
// channel alone (child_process.fork, "advanced" serialization: WorkerPool until session 12); against
// it, WorkerPool.postStep as it is, whose large arrays go through files in a spool folder
// (packages/vq/src/ipc-spool.ts: /dev/shm when it has room). Both in this process, one child each,
// `--rounds` alternated round trips per size after one of each to warm up; medians, and their ratio.
//
//   npx nx run-many -t build -p @laion/vq @laion/trainer-2b && node tools/bench/ipc.bench.mjs [--presets demo,small,base] [--rounds 3]
import { fork } from "node:child_process";
import { loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { benchFlags, fail, median, positiveInteger } from "./bench-inputs.mjs";

const { presets, rounds } = benchFlags({
  presets: { type: "string", default: "demo,small,base" },
  rounds: { type: "number", default: 3, check: positiveInteger },
});
const { countParameters, modelConfigFor, parseConfig, PRESET_NAMES, resolveShape, SPECIALS } = await import(
  "../../packages/trainer-2b/dist/index.js"
);
const { releaseSpooled, spoolRoot, WorkerPool } = await import("../../packages/vq/dist/index.js");
const names = presets.split(",");
for (const n of names)
  if (!PRESET_NAMES.includes(n)) fail(`--presets: ${n} is not one of ${PRESET_NAMES.join(", ")}`);

const worker = new URL("./ipc-echo-worker.mjs", import.meta.url);
const pipeChild = fork(fileURLToPath(worker), [], {
  serialization: "advanced",
  env: { ...process.env, IPC_BENCH_PIPE: "1" },
});
let id = 0;
const viaPipe = (weights) =>
  new Promise((resolve) => {
    pipeChild.once("message", (m) => resolve(m.grads));
    pipeChild.send({ id: id++, weights });
  });
const pool = new WorkerPool({ url: worker, execArgv: [] }, 2, { type: "init" }, "process");
await pool.ready();
const viaSpool = async (weights) => {
  const [answer] = await pool.postStep({ weights }, [], [{}]);
  const { grads } = await answer;
  // summed into the step's gradients at once, as the trainers do; then handed back
  setImmediate(() => releaseSpooled(grads));
  return grads;
};

async function roundTrip(send, weights) {
  const t0 = performance.now();
  const grads = await send(weights);
  if (grads.length !== weights.length) throw new Error(`${grads.length} values back for ${weights.length}`);
  return performance.now() - t0;
}

const load = loadavg();
const results = {};
for (const name of names) {
  // the preset's own vocabulary (text + codebook), as a dry run sizes it
  const config = parseConfig({ model: { preset: name } });
  const shape = resolveShape(config);
  const vocab = SPECIALS.length + shape.textVocab + shape.codebookSize;
  const params = countParameters(modelConfigFor(config, vocab));
  const weights = new Float32Array(params).fill(0.5);
  await roundTrip(viaPipe, weights);
  await roundTrip(viaSpool, weights);
  const pipe = [];
  const spool = [];
  for (let r = 0; r < rounds; r++) {
    // alternated, so a drift of the machine's speed falls on both
    if (r % 2 === 0) {
      pipe.push(await roundTrip(viaPipe, weights));
      spool.push(await roundTrip(viaSpool, weights));
    } else {
      spool.push(await roundTrip(viaSpool, weights));
      pipe.push(await roundTrip(viaPipe, weights));
    }
  }
  const mib = (params * 4) / 2 ** 20;
  results[name] = {
    parameters: params,
    mib_each_way: Math.round(mib),
    pipe_ms: Math.round(median(pipe)),
    spool_ms: Math.round(median(spool)),
    ratio: median(pipe) / median(spool),
    pipe_rounds_ms: pipe.map(Math.round),
    spool_rounds_ms: spool.map(Math.round),
  };
  console.error(`${name}: ${JSON.stringify(results[name])}`);
}
pipeChild.kill();
await pool.close();
console.log(
  JSON.stringify(
    { spool_root: spoolRoot(), rounds, load_average: { start: load, end: loadavg() }, results },
    null,
    2,
  ),
);

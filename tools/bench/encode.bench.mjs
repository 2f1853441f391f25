// Encode once, measured: (1) encode-vq-codes throughput (codes/s per worker = images/s through decode +
// encoder + write), and (2) the trainer's per-LAION-sample data work, image shards vs code shards, in the same
// process: samples/s and bytes read per sample. (2) is what the trainer's doc maker does per LAION sample:
// image shards → read JPEG, decode, run the VQ encoder; code shards → read, parse the .npy (+ identity check).
//
// Each rate is also given per CPU-second of this process (process.cpuUsage: every thread, libvips' too):
// on a shared machine wall-clock rates fall with the load, the work per CPU-second much less, so that is the
// "per free core" figure docs/scaling.md uses (measured, not scaled by load ÷ cores).
//
//   for p in cli-kit mixer shards vq; do (cd packages/$p && npx tsup); done
//   node tools/bench/encode.bench.mjs [--preset 64-f4] [--images 256] [--seconds 20]
import { mkdir, mkdtemp, readdir, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import sharp from "sharp";
import { localFolderStorage, TarWriter, WebDataset } from "../../packages/shards/dist/index.js";
import {
  encodeVqCodes,
  loadVQ,
  readCodeSample,
  selectBackend,
  trainVQ,
} from "../../packages/vq/dist/index.js";
import { benchFlags, fixturePhotos, median } from "./bench-inputs.mjs";

const {
  preset,
  images: IMAGES,
  seconds: SECONDS,
} = benchFlags({
  preset: { type: "string", default: "64-f4" },
  images: { type: "number", default: 256 },
  seconds: { type: "number", default: 20 },
});
const dir = await mkdtemp(path.join(tmpdir(), "encode-bench-"));

// Image shards as the downloader writes them for this preset: center-cropped JPEGs at the VQ's image size
// (quality 95, as img2dataset), with json + txt, 128 samples per shard.
const photos = await fixturePhotos();
const backend = (await selectBackend({ prefer: "wasm" })).name;
const out = path.join(dir, "vq.pt");
const trained = await trainVQ({
  out,
  preset,
  samples: async function* () {
    for (let i = 0; ; i++) yield { __key__: String(i), jpg: photos[i % photos.length] };
  },
  evalImages: [photos[0]],
  maxSteps: 1,
  batchSize: 2,
  evalEvery: 1_000_000,
});
const size = trained.model.config.imageSize;
trained.model.dispose();
const imageShards = path.join(dir, "images");
await mkdir(imageShards);
const PER_SHARD = 128;
for (let s = 0; s * PER_SHARD < IMAGES; s++) {
  const shard = await TarWriter.open({
    storage: localFolderStorage(imageShards),
    name: `${String(s).padStart(5, "0")}.tar`,
  });
  for (let i = s * PER_SHARD; i < Math.min(IMAGES, (s + 1) * PER_SHARD); i++) {
    const key = `${String(s).padStart(5, "0")}${String(i).padStart(4, "0")}`;
    // every sample distinct: a per-index crop offset, so no decode is a cached repeat
    const img = sharp(photos[i % photos.length]).resize(size + (i % 7), size + (i % 5), { fit: "cover" });
    const jpg = await img
      .extract({ left: i % 7, top: i % 5, width: size, height: size })
      .jpeg({ quality: 95 })
      .toBuffer();
    const caption = `a photo, number ${i}`;
    await shard.write({
      __key__: key,
      jpg,
      json: { key, url: `http://example.com/${i}.jpg`, caption },
      txt: caption,
    });
  }
  await shard.close();
}

// 1. encode-vq-codes throughput -------------------------------------------------------------------
/** Wall seconds and CPU seconds (user + system, all threads) of `fn`. */
async function timed(fn) {
  const [t, cpu] = [performance.now(), process.cpuUsage()];
  const result = await fn();
  const used = process.cpuUsage(cpu);
  return { result, wall: (performance.now() - t) / 1000, cpu: (used.user + used.system) / 1e6 };
}
const codeShards = path.join(dir, "codes");
const enc = await timed(() =>
  encodeVqCodes({ vqCheckpoint: out, input: imageShards, output: codeShards, batchSize: 32 }),
);
const encodeRate = enc.result.encoded / enc.wall;
const encodeCpuRate = enc.result.encoded / enc.cpu;

// 2. per-sample data work, images vs codes, alternating rounds ----------------------------------------
const bytesIn = async (folder) => {
  let total = 0;
  for (const f of await readdir(folder))
    if (f.endsWith(".tar")) total += (await stat(path.join(folder, f))).size;
  return total;
};
const vq = await loadVQ(out);
const expected = { id: await vq.identityId(), checkpoint: "vq.pt", grid_size: vq.gridSize };
async function rate(folder, work) {
  const t = performance.now();
  const {
    result: n,
    wall,
    cpu,
  } = await timed(async () => {
    let n = 0;
    const ds = WebDataset(folder, { resample: true, shuffleBuffer: 64, seed: 1 });
    for await (const s of ds) {
      await work(s);
      n++;
      if (n % 16 === 0 && performance.now() - t > SECONDS * 1000) break;
    }
    return n;
  });
  return { wall: n / wall, cpu: n / cpu };
}
const fromImages = (s) => vq.encodeImageBytes([s.jpg]);
const fromCodes = async (s) => readCodeSample(s, expected);
const rounds = [];
for (let k = 0; k < 3; k++) {
  const img = await rate(imageShards, fromImages);
  const codes = await rate(codeShards, fromCodes);
  rounds.push({ img: img.wall, codes: codes.wall, imgCpu: img.cpu, codesCpu: codes.cpu });
  console.log(
    `   round ${k + 1}: images ${img.wall.toFixed(1)} samples/s (${img.cpu.toFixed(1)} per CPU-s), codes ${codes.wall.toFixed(0)} samples/s (${codes.cpu.toFixed(0)} per CPU-s), ratio ${(codes.wall / img.wall).toFixed(0)}`,
  );
}
const [imgBytes, codeBytes] = [await bytesIn(imageShards), await bytesIn(codeShards)];
console.log(
  `\nencode-vq-codes, preset ${preset} (${size} px → ${vq.gridSize}×${vq.gridSize} codes), backend ${backend}, ${IMAGES} images:` +
    `\n   ${encodeRate.toFixed(1)} codes/s (images/s) per worker, one process; ${encodeCpuRate.toFixed(1)} codes per CPU-second (${enc.cpu.toFixed(1)} CPU-s in ${enc.wall.toFixed(1)} s)` +
    `\ntrainer LAION data work per sample (${SECONDS} s per side, 3 alternating rounds):` +
    `\n   image shards: median ${median(rounds.map((x) => x.img)).toFixed(1)} samples/s (${median(rounds.map((x) => x.imgCpu)).toFixed(1)} per CPU-s), ${(imgBytes / IMAGES / 1024).toFixed(1)} KiB read per sample` +
    `\n   code shards:  median ${median(rounds.map((x) => x.codes)).toFixed(0)} samples/s (${median(rounds.map((x) => x.codesCpu)).toFixed(0)} per CPU-s), ${(codeBytes / IMAGES / 1024).toFixed(2)} KiB read per sample` +
    `\n   ratio codes/images: ${median(rounds.map((x) => x.codes / x.img)).toFixed(0)}× samples/s, ${(imgBytes / codeBytes).toFixed(1)}× fewer bytes`,
);
vq.dispose();

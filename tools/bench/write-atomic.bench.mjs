// Benchmark: what the folder fsync costs cli-kit's writeFileAtomic (temp file, fsync, rename, fsync the
// folder) against the same write without it (temp file, fsync, rename: what it did before), for a
// manifest-sized and a checkpoint-sized file, interleaved round by round so load hits both alike.
// Build first: (cd packages/cli-kit && npx tsup). Run: node tools/bench/write-atomic.bench.mjs
// Prints median ms per write for each side and the ratio; the last line is JSON.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { writeFileAtomic } from "../../packages/cli-kit/dist/index.js";
import { benchFlags, median } from "./bench-inputs.mjs";

const { rounds } = benchFlags({ rounds: { type: "number", default: 40 } });

/** The baseline: writeFileAtomic as it was, without the folder sync. */
async function withoutFolderSync(file, data) {
  const tmp = `${file}.tmp-${process.pid}`;
  const fh = await fs.promises.open(tmp, "w");
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.promises.rename(tmp, file);
}

async function measure(bytes) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "write-atomic-bench-"));
  const data = Buffer.alloc(bytes, 7);
  const times = { baseline: [], atomic: [] };
  try {
    for (let r = 0; r < rounds; r++) {
      for (const [side, write] of [
        ["baseline", withoutFolderSync],
        ["atomic", writeFileAtomic],
      ]) {
        const t0 = performance.now();
        await write(path.join(dir, `${side}.bin`), data);
        times[side].push(performance.now() - t0);
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return { bytes, baseline_ms: median(times.baseline), atomic_ms: median(times.atomic) };
}

const rows = [];
for (const bytes of [1024, 4 << 20]) {
  const row = await measure(bytes);
  row.ratio = row.atomic_ms / row.baseline_ms;
  rows.push(row);
  console.log(
    `${String(bytes).padStart(8)} B: without folder sync ${row.baseline_ms.toFixed(2)} ms, ` +
      `writeFileAtomic ${row.atomic_ms.toFixed(2)} ms (×${row.ratio.toFixed(2)}, ` +
      `+${(row.atomic_ms - row.baseline_ms).toFixed(2)} ms) — median of ${rounds}`,
  );
}
console.log(JSON.stringify({ bench: "write-atomic", rounds, load: os.loadavg()[0], rows }));

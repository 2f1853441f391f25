// Grounded samples → webdataset shards through @laion/shards' own shard writer (the downloader's), so
// the output is laid out exactly as a LAION download: `00000.tar` with `{key}.png`, `{key}.txt`,
// `{key}.json`, plus `00000.parquet` and `00000_stats.json`. It can be passed wherever LAION shards
// go (`--laion-path`, `--laion-tars`); `captions.txt` beside them is a tokenizer corpus. A finished shard is skipped on a rerun; `grounded.json` records
// the parameters, and a folder written with other parameters is refused rather than mixed.
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import {
  computeKey,
  createWebDatasetWriter,
  isShardComplete,
  localFolderStorage,
  type SampleRecord,
  type ShardStats,
  shardName,
} from "@laion/shards";
import { DEFAULT_HELD_OUT, splitCombos } from "./attributes.js";
import { LANGS } from "./captions.js";
import { checkSampleParams, type GroundedSample, groundedSample, type SampleParams } from "./samples.js";
import { renderScene } from "./scene.js";

export const MANIFEST = "grounded.json";
/** Every caption of the split, one a line: a corpus to train the tokenizer on (`data.corpus`). */
export const CAPTIONS_FILE = "captions.txt";
/** v2: shape-first captions; every shape whole inside the image (v1 folders are refused, not mixed). */
export const MANIFEST_FORMAT = "laion-grounded-shapes-v2";

export interface WriteParams extends SampleParams {
  outDir: string;
  count: number;
  /** Samples per shard (default 1000). */
  shardSize?: number;
  /** Called after each shard. */
  onShard?: (done: { shard: string; samples: number; skipped: boolean }) => void;
}

export interface WriteResult {
  outDir: string;
  shards: string[];
  count: number;
  skipped: number;
}

/** Columns added to every sample's `.json` and to the shard parquet: the ground truth. */
export const TRUTH_COLUMNS = ["colour", "shape", "position", "lang", "split"] as const;

function manifestOf(p: WriteParams, shardSize: number) {
  const heldOut = p.heldOut ?? DEFAULT_HELD_OUT;
  return {
    format: MANIFEST_FORMAT,
    split: p.split,
    seed: p.seed,
    count: p.count,
    shardSize,
    imageSize: p.imageSize ?? 64,
    langs: [...(p.langs ?? LANGS)],
    heldOut: [...heldOut],
    combos: splitCombos(heldOut)[p.split === "train" ? "train" : "heldOut"],
  };
}

/** Refuses a folder whose grounded.json was written with other parameters (its shards would not match). */
function checkExisting(file: string, manifest: object): void {
  if (!fs.existsSync(file)) return;
  const old = fs.readFileSync(file, "utf8");
  if (old.trim() !== JSON.stringify(manifest, null, 1).trim())
    throw new Error(
      `${file} was written with other parameters; use another output folder or remove it (was: ${old.replace(/\s+/g, " ").slice(0, 200)})`,
    );
}

async function record(s: GroundedSample, key: string): Promise<SampleRecord> {
  const png = await renderScene(s.scene);
  const size = s.scene.size;
  return {
    caption: s.caption,
    image: png,
    meta: {
      colour: s.scene.colour,
      shape: s.scene.shape,
      position: s.scene.position,
      lang: s.lang,
      split: s.split,
      caption: s.caption,
      url: `grounded://${s.split}/${s.index}`,
      key,
      status: "success",
      error_message: null,
      width: size,
      height: size,
      original_width: size,
      original_height: size,
      sha256: createHash("sha256").update(png).digest("hex"),
    },
  };
}

export async function writeGroundedShards(p: WriteParams): Promise<WriteResult> {
  checkSampleParams(p);
  if (!Number.isSafeInteger(p.count) || p.count < 1)
    throw new Error(`count must be an integer >= 1, got ${p.count}`);
  const shardSize = p.shardSize ?? 1000;
  if (!Number.isSafeInteger(shardSize) || shardSize < 1)
    throw new Error(`shardSize must be an integer >= 1, got ${shardSize}`);
  const manifest = manifestOf(p, shardSize);
  const manifestFile = path.join(p.outDir, MANIFEST);
  checkExisting(manifestFile, manifest);
  const storage = localFolderStorage(p.outDir);
  await storage.probe();
  // Written first: a killed run's finished shards are only reused by a run with the same parameters.
  await storage.put(MANIFEST, `${JSON.stringify(manifest, null, 1)}\n`);
  const shards: string[] = [];
  let skipped = 0;
  const nShards = Math.ceil(p.count / shardSize);
  for (let s = 0; s < nShards; s++) {
    const name = shardName(s);
    shards.push(path.join(p.outDir, `${name}.tar`));
    const first = s * shardSize;
    const n = Math.min(shardSize, p.count - first);
    if (await isShardComplete(storage, name)) {
      skipped++;
      p.onShard?.({ shard: name, samples: n, skipped: true });
      continue;
    }
    await writeShard(p, storage, name, s, first, n, shardSize);
    p.onShard?.({ shard: name, samples: n, skipped: false });
  }
  const lines = Array.from({ length: p.count }, (_, i) => `${groundedSample(p, i).caption}\n`);
  await storage.put(CAPTIONS_FILE, lines.join(""));
  return { outDir: p.outDir, shards, count: p.count, skipped };
}

async function writeShard(
  p: WriteParams,
  storage: ReturnType<typeof localFolderStorage>,
  name: string,
  shardId: number,
  first: number,
  n: number,
  shardSize: number,
): Promise<void> {
  const start = Date.now() / 1000;
  const writer = await createWebDatasetWriter({
    storage,
    name,
    encodeFormat: "png",
    saveCaption: true,
    additionalColumns: TRUTH_COLUMNS,
  });
  try {
    // Render a few at a time (sharp works on libuv's threads), write in index order.
    const BATCH = 16;
    for (let i = 0; i < n; i += BATCH) {
      const recs = await Promise.all(
        Array.from({ length: Math.min(BATCH, n - i) }, (_, j) =>
          record(groundedSample(p, first + i + j), computeKey({ shardId, indexInShard: i + j, shardSize })),
        ),
      );
      for (const r of recs) await writer.write(r);
    }
  } catch (err) {
    await writer.abort();
    throw err;
  }
  const end = Date.now() / 1000;
  const stats: ShardStats = {
    count: n,
    successes: n,
    failed_to_download: 0,
    failed_to_resize: 0,
    duration: end - start,
    start_time: start,
    end_time: end,
    status_dict: { success: n },
  };
  await writer.close(stats);
}

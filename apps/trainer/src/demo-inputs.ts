import fs from "node:fs";
import path from "node:path";
import { writeFileAtomicSync } from "@laion/cli-kit";
import { createRng } from "@laion/mixer";
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from "hyparquet";
import { compressors } from "hyparquet-compressors";
import { parquetWriteBuffer } from "hyparquet-writer";
import sharp from "sharp";

export interface DemoImagesParams {
  /** Folders of real photos to start from (the repo's fixtures). */
  sources: string[];
  /** Folder the originals and generated variants are written to (served by the image server). */
  outDir: string;
  /** How many variants (random crop, flip, colour shift) to generate in addition to the originals. */
  variants: number;
  seed: number;
}

/**
 * Copies the fixture photos into `outDir` and adds seeded variants of them (random crop, mirror,
 * brightness/saturation/hue shift), so the demo's LAION stand-in has a few hundred different images
 * rather than the same 21 photos. Idempotent: a finished run leaves `manifest.json`, and a rerun with
 * the same parameters reuses it.
 */
export async function prepareDemoImages(params: DemoImagesParams): Promise<string[]> {
  const manifestPath = path.join(params.outDir, "manifest.json");
  const key = JSON.stringify({ sources: params.sources, variants: params.variants, seed: params.seed });
  if (fs.existsSync(manifestPath)) {
    const manifest = JSON.parse(fs.readFileSync(manifestPath, "utf8")) as { key: string; files: string[] };
    if (manifest.key === key && manifest.files.every((f) => fs.existsSync(path.join(params.outDir, f))))
      return manifest.files;
  }
  fs.mkdirSync(params.outDir, { recursive: true });
  const originals: { name: string; file: string }[] = [];
  for (const dir of params.sources) {
    for (const name of fs.readdirSync(dir).sort()) {
      if (!/\.(jpe?g|png|webp)$/i.test(name)) continue;
      // prefix with the folder name: two fixture folders may hold the same file name
      originals.push({ name: `${path.basename(dir)}_${name}`, file: path.join(dir, name) });
    }
  }
  if (originals.length === 0) throw new Error(`no images found in ${params.sources.join(", ")}`);
  const files: string[] = [];
  for (const o of originals) {
    fs.copyFileSync(o.file, path.join(params.outDir, o.name));
    files.push(o.name);
  }
  const rng = createRng(params.seed);
  const rand = () => rng.nextFloat();
  for (let i = 0; i < params.variants; i++) {
    const o = originals[i % originals.length]!;
    const meta = await sharp(o.file).metadata();
    const w = meta.width ?? 0;
    const h = meta.height ?? 0;
    // crop 50–100 % of each side at a random position
    const cw = Math.max(16, Math.round(w * (0.5 + 0.5 * rand())));
    const ch = Math.max(16, Math.round(h * (0.5 + 0.5 * rand())));
    const left = Math.floor((w - cw) * rand());
    const top = Math.floor((h - ch) * rand());
    let img = sharp(o.file).extract({ left, top, width: Math.min(cw, w), height: Math.min(ch, h) });
    if (rand() < 0.5) img = img.flop();
    img = img.modulate({
      brightness: 0.75 + 0.5 * rand(),
      saturation: 0.6 + 0.8 * rand(),
      hue: Math.round(rand() * 60 - 30),
    });
    const name = `variant_${String(i).padStart(4, "0")}.jpg`;
    writeFileAtomicSync(path.join(params.outDir, name), await img.jpeg({ quality: 90 }).toBuffer());
    files.push(name);
  }
  writeFileAtomicSync(manifestPath, JSON.stringify({ key, files }, null, 2));
  return files;
}

/** Faults the demo's URLs hit, so fetch/download stats show failures being handled (and some retried to success). */
export const DEMO_FAULTS = [
  "404",
  "corrupt",
  "503-then-ok",
  "wrong-content-type",
  "redirect-chain",
  "noai",
  "truncated",
  "500",
  "huge",
  "redirect-loop",
] as const;

export interface DemoParquetParams {
  /** A real LAION parquet (fixtures/laion/test_10000.parquet): its captions are kept as they are. */
  source: string;
  out: string;
  /** Base URL of the image server, e.g. `http://127.0.0.1:41234` (no trailing slash). */
  imageBaseUrl: string;
  /** Image file names served at `/images/<name>`. */
  images: string[];
  rows: number;
  /** Fraction of rows whose URL goes to a `/fault/<kind>/…` route. */
  faultFraction: number;
  seed: number;
}

export interface DemoRow {
  URL: string;
  TEXT: string;
}

/**
 * Writes the demo's stand-in for a LAION part file: `rows` real LAION captions (picked at random,
 * seeded, from the rows with a non-empty caption) with their URLs rewritten to the local image server,
 * about `faultFraction` of them to fault routes. Returns the rows written.
 */
export async function writeDemoParquet(params: DemoParquetParams): Promise<DemoRow[]> {
  if (params.images.length === 0) throw new Error("writeDemoParquet: no images to point the URLs at");
  const file = await asyncBufferFromFile(params.source);
  const meta = await parquetMetadataAsync(file);
  const total = Number(meta.num_rows);
  const all = (await parquetReadObjects({ file, metadata: meta, columns: ["TEXT"], compressors })) as {
    TEXT: string | null;
  }[];
  const usable = all.flatMap((r, i) => (typeof r.TEXT === "string" && r.TEXT.trim() !== "" ? [i] : []));
  if (usable.length < params.rows)
    throw new Error(
      `${params.source}: only ${usable.length} of ${total} rows have a caption, need ${params.rows}`,
    );
  const rng = createRng(params.seed);
  const rand = () => rng.nextFloat();
  // partial Fisher–Yates: the first `rows` entries become a seeded sample, kept in source order
  for (let i = 0; i < params.rows; i++) {
    const j = i + Math.floor(rand() * (usable.length - i));
    [usable[i], usable[j]] = [usable[j]!, usable[i]!];
  }
  const picked = usable.slice(0, params.rows).sort((a, b) => a - b);
  const faultEvery = params.faultFraction > 0 ? Math.max(1, Math.round(1 / params.faultFraction)) : 0;
  const rows: DemoRow[] = picked.map((srcIndex, i) => {
    const image = params.images[i % params.images.length]!;
    const name = encodeURIComponent(image);
    // spread faults evenly (every k-th row, offset so the first row is a good one)
    const isFault = faultEvery > 0 && i % faultEvery === faultEvery - 1;
    const kind = DEMO_FAULTS[Math.floor(i / Math.max(1, faultEvery)) % DEMO_FAULTS.length]!;
    const URL = isFault
      ? `${params.imageBaseUrl}/fault/${kind}/${name}`
      : `${params.imageBaseUrl}/images/${name}`;
    return { URL, TEXT: all[srcIndex]!.TEXT! };
  });
  const buffer = parquetWriteBuffer({
    columnData: [
      { name: "URL", data: rows.map((r) => r.URL), type: "STRING", nullable: false },
      { name: "TEXT", data: rows.map((r) => r.TEXT), type: "STRING", nullable: false },
    ],
  });
  writeFileAtomicSync(params.out, new Uint8Array(buffer));
  return rows;
}

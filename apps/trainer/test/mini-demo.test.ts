import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { asyncBufferFromFile, parquetReadObjects } from "hyparquet";
import { afterAll, describe, expect, test } from "vitest";
import { runDemo } from "../src/demo.js";
import { buildStages } from "../src/kaggle.js";

const root = path.resolve(import.meta.dirname, "../../..");
const outDir = fs.mkdtempSync(path.join(os.tmpdir(), "trainer-mini-demo-"));
afterAll(() => fs.rmSync(outDir, { recursive: true, force: true }));

/** The demo with everything shrunk: 20 rows, shards of 10, a few VQ and model steps; `laion: false` = local data only. */
const mini = (lines: string[], laion = true) => ({
  root,
  outDir,
  rows: 20,
  variants: 4,
  log: (l: string) => lines.push(l),
  overrides: (cfg: Parameters<NonNullable<Parameters<typeof runDemo>[0]["overrides"]>>[0]) => ({
    ...cfg,
    laion: { ...cfg.laion, enabled: laion },
    download: { ...cfg.download, shard_size: 10, concurrency: 4, image_size: 64 },
    vq: { ...cfg.vq, max_steps: 3, batch_size: 4, eval_every: 3 },
    train: { ...cfg.train, max_steps: 2, preset: "tiny" },
  }),
});

/** The sources named in a metrics.jsonl (VQ: evalSources; model: loss_by_source). */
function sourcesIn(file: string): Set<string> {
  const names = new Set<string>();
  for (const line of fs.readFileSync(file, "utf8").split("\n").filter(Boolean)) {
    const r = JSON.parse(line) as { evalSources?: object; loss_by_source?: object };
    for (const k of Object.keys(r.evalSources ?? r.loss_by_source ?? {})) names.add(k);
  }
  return names;
}

describe("mini demo: the whole pipeline on 20 rows", () => {
  test("local data first; adding LAION fetches, downloads and retrains VQ + model with it; a rerun skips every stage", async () => {
    const local = await runDemo(mini([], false));
    expect(local.summary?.stages.map((s) => [s.name, s.status])).toEqual([
      ["train-vq", "ran"],
      ["train", "ran"],
    ]);
    const vqMetrics = path.join(path.dirname(local.outputs.vq), "metrics.jsonl");
    const trainMetrics = path.join(local.cfg.train.output_dir, "metrics.jsonl");
    expect(sourcesIn(vqMetrics).has("laion")).toBe(false);

    const lines: string[] = [];
    const first = await runDemo(mini(lines));
    expect(first.summary?.stages.map((s) => [s.name, s.status])).toEqual([
      ["fetch", "ran"],
      ["download", "ran"],
      ["train-vq", "reran"],
      ["encode", "ran"],
      ["train", "reran"],
    ]);
    // encode: one code shard per image shard, codes and captions only, from the VQ just trained
    const codeStats = JSON.parse(
      fs.readFileSync(path.join(outDir, "data/laion/vq-codes/00000_stats.json"), "utf8"),
    ) as { successes: number; vq: { checkpoint: string } };
    expect(codeStats.successes).toBe(shardSuccesses(first.outputs.shards, "00000"));
    expect(codeStats.vq.checkpoint).toBe("visual_vq.pt");
    // the summary says why, and the local-only runs are kept beside
    const log = lines.join("\n");
    // the data-parallel wasm workers that ran (the packages' default: every core)
    const cores = os.availableParallelism();
    const threads = `wasm, ${cores} thread${cores === 1 ? "" : "s"}`;
    expect(log).toContain(`Trained on: train-vq ${threads}; train ${threads}`);
    expect(log).toMatch(/train-vq: laion_prob 0 → 0\.5; input .*webdataset \(unset\) → run [0-9a-f]{16}/);
    expect(log).toMatch(/ {2}train: .*laion_prob 0 → 0\.3/);
    expect(fs.existsSync(`${first.outputs.vq}.prev-1`)).toBe(true);
    expect(fs.existsSync(`${first.cfg.train.output_dir}.prev-1`)).toBe(true);
    // LAION is in both metrics files now
    expect(sourcesIn(vqMetrics).has("laion")).toBe(true);
    expect(sourcesIn(trainMetrics).has("laion")).toBe(true);
    // fetch went through the hub-like server: real captions, URLs on the local image server
    const rows = (await parquetReadObjects({ file: await asyncBufferFromFile(first.outputs.filtered) })) as {
      URL: string;
      TEXT: string;
    }[];
    expect(rows).toHaveLength(20);
    expect(rows.every((r) => r.URL.startsWith("http://127.0.0.1:") && r.TEXT.length > 0)).toBe(true);
    // download: two shards of 10, the faulty URL counted as a failure
    const shardStats = ["00000", "00001"].map(
      (s) =>
        JSON.parse(fs.readFileSync(path.join(first.outputs.shards, `${s}_stats.json`), "utf8")) as {
          count: number;
          successes: number;
        },
    );
    expect(shardStats.map((s) => s.count)).toEqual([10, 10]);
    expect(shardStats[0]!.successes + shardStats[1]!.successes).toBe(19);
    expect(fs.existsSync(first.outputs.vq)).toBe(true);
    expect(first.outputs.reconstructions).toMatch(/\.recon-\d+\.png$/);
    expect(fs.existsSync(first.outputs.reconstructions)).toBe(true);
    const report = fs.readFileSync(first.outputs.report, "utf8");
    expect(report).toContain("<html");
    // the demo's image → caption samples are text, never empty (<eos> is held back for the first token:
    // before, every one was empty); the model here trains 2 steps, so they are not words yet (byte
    // pieces, some invalid UTF-8): whether a letter is among them is chance, so only "not empty" is
    // asserted here. Words are the grounded benchmark's job; its samples follow in their own section.
    const bench = report.indexOf("<h2>Samples: grounded benchmark");
    expect(bench).toBeGreaterThan(0);
    const captions = [
      ...report
        .slice(0, bench)
        .matchAll(
          /<b>image2caption<\/b><div>[^<]*(?:<img [^>]*>)?<\/div><div><i>[^<]*<\/i><\/div><div>→ ([^<]*)<\/div>/g,
        ),
    ].map((m) => m[1]!);
    expect(captions.length).toBeGreaterThan(0);
    for (const c of captions) {
      expect(c.trim(), report.slice(0, bench)).not.toBe("");
    }
    expect(report.slice(bench)).toMatch(/<b>image2caption<\/b>/);
    expect(lines.join("\n")).toContain(`Report:          ${first.outputs.report}`);

    const again = await runDemo(mini([]));
    expect(again.summary?.stages.map((s) => s.status)).toEqual([
      "skipped",
      "skipped",
      "skipped",
      "skipped",
      "skipped",
    ]);
  }, 300_000); // two whole pipeline runs: minutes on a loaded 2-core machine

  test("after losing a shard (a kill during download), the rerun resumes the download and keeps the rest", async () => {
    const shards = path.join(outDir, "data/laion/webdataset");
    const before = fs.readFileSync(path.join(shards, "00000.tar"));
    for (const f of ["00001.tar", "00001_stats.json", "00001.parquet", "stats.json"])
      fs.rmSync(path.join(shards, f));
    const lines: string[] = [];
    const result = await runDemo(mini(lines));
    expect(result.summary?.stages.map((s) => s.status)).toEqual([
      "skipped",
      "resumed",
      "skipped",
      "skipped",
      "skipped",
    ]);
    expect(lines.join("\n")).toContain("[download] resuming (1/2 shards finished)");
    // the resumed download wrote the same images: the trainings after it stay as they are
    expect(fs.readFileSync(path.join(shards, "00000.tar")).equals(before)).toBe(true);
    expect(fs.existsSync(path.join(shards, "00001.tar"))).toBe(true);
  }, 300_000); // two whole pipeline runs: minutes on a loaded 2-core machine
});

/** The built CLIs the hints run through `npx` (each package's committed bin launcher imports its dist entry). */
const BUILT = [
  "packages/fetch/dist/cli.js",
  "packages/shards/dist/download-cli.js",
  "packages/vq/dist/cli.js",
  "packages/vq/dist/cli-encode.js",
  "packages/trainer-2b/dist/cli-train.js",
].map((f) => path.join(root, f));

// CI builds before it tests; a bare `vitest run` without a build has no bins to run
describe.skipIf(!BUILT.every((f) => fs.existsSync(f)))("the 'run this stage alone' hints", () => {
  test("each command the app prints runs verbatim and finds its stage complete", async () => {
    const cfg = (await runDemo({ ...mini([]), dryRun: true })).cfg;
    const hints = buildStages({ cfg }).map((s) => [s.name, s.command()] as const);
    expect(hints.map(([, c]) => c.split(" ").slice(0, 2).join(" "))).toEqual([
      "npx fetch-laion-subset",
      "npx download-laion-images",
      "npx train-visual-vq",
      "npx encode-vq-codes",
      "npx train-multimodal",
    ]);
    for (const [name, command] of hints) {
      const run = spawnSync("bash", ["-c", command], { encoding: "utf8", env: { ...process.env, CI: "1" } });
      expect(run.status, `${name}: ${command}\n${run.stderr}`).toBe(0);
    }
  }, 300_000);
});

function shardSuccesses(dir: string, shard: string): number {
  return (JSON.parse(fs.readFileSync(path.join(dir, `${shard}_stats.json`), "utf8")) as { successes: number })
    .successes;
}

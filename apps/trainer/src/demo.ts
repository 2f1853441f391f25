import fs from "node:fs";
import path from "node:path";
import { startHubServer, startImageServer } from "@laion/test-servers";
import { type AppConfig, parseAppConfig } from "./app-config.js";
import { prepareDemoImages, writeDemoParquet } from "./demo-inputs.js";
import { buildStages } from "./kaggle.js";
import {
  formatPlan,
  formatSummary,
  type PipelineSummary,
  planPipeline,
  runPipeline,
  StageFailedError,
} from "./run-pipeline.js";
import { startStableForwarder } from "./stable-port.js";
import { latestReconstructionGrid } from "./stage-vq.js";

/** The repo the demo's hub server pretends to be: the same id the kaggle run reads from huggingface.co. */
export const DEMO_DATASET = "laion/relaion2B-en-research-safe";

export interface DemoParams {
  /** Repository root (holds fixtures/ and configs/). */
  root: string;
  /** Where everything the demo writes goes. Default `<root>/demo_output`. */
  outDir?: string;
  /** LAION rows in the demo parquet (real captions; ~5 % of URLs hit faults). */
  rows?: number;
  /** Generated image variants served in addition to the fixture photos. */
  variants?: number;
  /** Overrides on top of the demo's app config (tests shrink the budgets with these). */
  overrides?: (cfg: AppConfig) => AppConfig;
  dryRun?: boolean;
  force?: boolean;
  /** The command that reruns the demo, printed when a stage fails. */
  rerunCommand?: string;
  log?: (line: string) => void;
}

export interface DemoResult {
  summary: PipelineSummary | null;
  cfg: AppConfig;
  /** Paths worth opening: the report, the reconstruction grid, the data. */
  outputs: { report: string; reconstructions: string; filtered: string; shards: string; vq: string };
}

/** The demo's app config: the kaggle pipeline with tiny budgets and every path under `outDir`. */
export function demoConfig(params: {
  root: string;
  outDir: string;
  hubUrl: string;
  rows: number;
}): AppConfig {
  // paths under the working directory are shown relative to it: shorter logs, same meaning
  const rel = (p: string) => {
    const r = path.relative(process.cwd(), p);
    if (r === "") return ".";
    return !r.startsWith("..") && !path.isAbsolute(r) ? r : p;
  };
  const root = rel(params.root);
  const outDir = rel(params.outDir);
  return parseAppConfig(
    {
      laion: {
        enabled: true,
        hf_dataset: DEMO_DATASET,
        hub_url: params.hubUrl,
        max_samples: params.rows,
        seed: 0,
        dir: path.join(outDir, "data/laion"),
      },
      download: {
        output: path.join(outDir, "data/laion/webdataset"),
        image_size: 128,
        // small shards, so a kill during download leaves finished shards that the rerun skips
        shard_size: 100,
        resize_mode: "center_crop",
        concurrency: 8,
        timeout_s: 5,
        retries: 2,
        // the demo's image server: just it, not every private address
        allow_addresses: ["127.0.0.1"],
      },
      local: {
        captions: path.join(root, "fixtures/explicit_media/captions.json"),
        image_root: path.join(root, "fixtures/explicit_media"),
        corpus: [path.join(root, "fixtures/sinhala/corpus.txt")],
      },
      vq: {
        out: path.join(outDir, "model_output/visual_vq.pt"),
        preset: "demo",
        // budgets for ≤ 10 minutes on 2 cores (docs/getting-started.md has the measured times)
        max_steps: 100,
        batch_size: 16,
        eval_every: 50,
      },
      encode: { enabled: true, output: path.join(outDir, "data/laion/vq-codes"), batch_size: 32 },
      train: {
        config: path.join(root, "configs/demo.yaml"),
        output_dir: path.join(outDir, "output"),
        laion_prob: 0.3,
        max_steps: 100,
        preset: "auto",
        // the grounded benchmark's held-out samples beside the demo's own (docs/benchmarks.md)
        report_samples: [path.join(root, "docs/grounded-samples.json")],
      },
    },
    "demo config",
  );
}

/**
 * The offline demo: the kaggle pipeline end to end against local stand-ins. A hub-like server serves a
 * parquet of real LAION captions whose URLs point at a local image server (real photos plus seeded
 * variants, ~5 % faulty URLs); the VQ and the model train with tiny presets on the Sinhala corpus, the
 * captioned-image folder and the downloaded shards. Rerunning skips finished stages and resumes a
 * killed one.
 */
export async function runDemo(params: DemoParams): Promise<DemoResult> {
  const log = params.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const root = params.root;
  const outDir = path.resolve(params.outDir ?? path.join(root, "demo_output"));
  const rows = params.rows ?? 300;
  const dataDir = path.join(outDir, "data");
  fs.mkdirSync(dataDir, { recursive: true });

  const t0 = performance.now();
  const images = await prepareDemoImages({
    sources: [
      path.join(root, "fixtures/images/originals"),
      path.join(root, "fixtures/explicit_media/photos"),
    ],
    outDir: path.join(dataDir, "demo_images"),
    variants: params.variants ?? 100,
    seed: 0,
  });
  const imageServer = await startImageServer({ root: path.join(dataDir, "demo_images") });
  const closers: (() => Promise<void>)[] = [() => imageServer.close()];
  try {
    const forwarder = await startStableForwarder({
      target: imageServer.url,
      stateFile: path.join(dataDir, "demo_ports.json"),
    });
    closers.push(() => forwarder.close());
    const hubParquet = path.join(dataDir, "hub", DEMO_DATASET, "data/part-00000.parquet");
    await writeDemoParquet({
      source: path.join(root, "fixtures/laion/test_10000.parquet"),
      out: hubParquet,
      imageBaseUrl: forwarder.url,
      images,
      rows,
      faultFraction: 0.05,
      seed: 0,
    });
    const hub = await startHubServer({
      datasets: { [DEMO_DATASET]: { files: { "data/part-00000.parquet": hubParquet } } },
    });
    closers.push(() => hub.close());
    log(
      `[demo] inputs ready in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${images.length} photos at ${forwarder.url}/images/, ` +
        `${rows} real LAION captions served as ${DEMO_DATASET} by ${hub.url}`,
    );

    let cfg = demoConfig({ root, outDir, hubUrl: hub.url, rows });
    if (params.overrides) cfg = parseAppConfig(params.overrides(cfg), "demo overrides");
    const stages = buildStages({ cfg });
    const outputs = {
      report: path.join(cfg.train.output_dir, "report.html"),
      reconstructions: latestReconstructionGrid(cfg.vq.out) ?? "(written by the train-vq stage)",
      filtered: path.join(cfg.laion.dir, "filtered.parquet"),
      shards: cfg.download.output,
      vq: cfg.vq.out,
    };
    if (params.dryRun) {
      log(formatPlan(await planPipeline({ stages, force: params.force ?? false })));
      return { summary: null, cfg, outputs };
    }
    let summary: PipelineSummary;
    try {
      summary = await runPipeline({
        stages,
        rerunCommand: params.rerunCommand ?? "npm run demo",
        log,
        force: params.force ?? false,
      });
    } catch (err) {
      if (err instanceof StageFailedError) log(formatSummary(err.summary));
      throw err;
    }
    log(formatSummary(summary));
    log(`Report:          ${outputs.report}`);
    outputs.reconstructions = latestReconstructionGrid(cfg.vq.out) ?? outputs.reconstructions;
    log(`Reconstructions: ${outputs.reconstructions}`);
    return { summary, cfg, outputs };
  } finally {
    for (const close of closers.reverse()) await close();
  }
}

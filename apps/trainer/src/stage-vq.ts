import fs from "node:fs";
import path from "node:path";
import { createProgress } from "@laion/cli-kit";
import { loadVQ, optimPath, trainVQ, VQ_PRESETS, type VQPresetName } from "@laion/vq";
import type { AppConfig } from "./app-config.js";
import { commandLine, readJson } from "./parquet-check.js";
import type { Stage } from "./stage.js";

export interface VqStageParams {
  cfg: AppConfig;
  /** Mix the LAION shards in (download.output) with vq.laion_prob. */
  laion: boolean;
}

/** The newest reconstruction grid @laion/vq wrote next to the checkpoint (`<name>.recon-<step>.png`), if any. */
export function latestReconstructionGrid(out: string): string | null {
  const dir = path.dirname(out);
  const prefix = `${path.basename(out)}.recon-`;
  if (!fs.existsSync(dir)) return null;
  const grids = fs
    .readdirSync(dir)
    .filter((f) => f.startsWith(prefix) && f.endsWith(".png"))
    .sort();
  const last = grids.at(-1);
  return last ? path.join(dir, last) : null;
}

/** The step recorded in the checkpoint's JSON sidecar (`<out>.json`), or null when there is none. */
function checkpointStep(out: string): number | null {
  const meta = readJson<{ step?: string | number }>(`${out}.json`);
  const step = Number(meta?.step);
  return Number.isFinite(step) ? step : null;
}

function presetName(name: string): VQPresetName {
  if (!(name in VQ_PRESETS))
    throw new Error(
      `vq.preset "${name}" is not a @laion/vq preset; known: ${Object.keys(VQ_PRESETS).join(", ")}`,
    );
  return name as VQPresetName;
}

/**
 * Stage 3: train the VQ image tokenizer with @laion/vq on the user's captioned images, plus the LAION
 * shards when LAION is on. Complete when the checkpoint loads and has reached vq.max_steps; a
 * checkpoint short of it (the run was killed) is resumed with its optimizer state.
 */
export function vqStage(params: VqStageParams): Stage {
  const { cfg, laion } = params;
  const v = cfg.vq;
  const local = cfg.local;
  return {
    name: "train-vq",
    describe: () =>
      `${local.captions}${laion ? ` + ${cfg.download.output} (p=${v.laion_prob})` : ""} → ${v.out} ` +
      `(${v.preset}, ${v.max_steps} steps)`,
    outputs: () => {
      const grid = latestReconstructionGrid(v.out);
      return [v.out, ...(grid ? [grid] : [])];
    },
    command: () =>
      commandLine([
        "npx",
        "train-visual-vq",
        "--captions",
        local.captions,
        "--image-root",
        local.image_root,
        ...(laion ? ["--laion-tars", cfg.download.output, "--laion-prob", v.laion_prob] : []),
        "--preset",
        v.preset,
        "--max-steps",
        v.max_steps,
        "--batch-size",
        v.batch_size,
        "--eval-every",
        v.eval_every,
        "--out",
        v.out,
        "--resume",
      ]),
    check: async () => {
      const step = checkpointStep(v.out);
      if (step === null || !fs.existsSync(v.out))
        return { complete: false, partial: false, detail: `no ${v.out} yet` };
      if (step < v.max_steps) {
        const resumable = fs.existsSync(optimPath(v.out));
        return {
          complete: false,
          partial: resumable,
          detail: `checkpoint at step ${step}/${v.max_steps}${resumable ? "" : " without optimizer state (starting over)"}`,
        };
      }
      try {
        const model = await loadVQ(v.out);
        model.dispose();
      } catch (err) {
        return {
          complete: false,
          partial: false,
          detail: `${v.out} does not load: ${(err as Error).message}`,
        };
      }
      return { complete: true, partial: false, detail: `checkpoint at step ${step}/${v.max_steps}` };
    },
    run: async ({ resume, log }) => {
      const resumedAt = resume ? (checkpointStep(v.out) ?? 0) : 0;
      const progress = createProgress({
        label: "steps",
        total: Math.max(0, v.max_steps - resumedAt),
        unit: "steps",
      });
      let lastStep: number | null = null;
      const result = await trainVQ({
        out: v.out,
        preset: presetName(v.preset),
        captions: local.captions,
        imageRoot: local.image_root,
        ...(laion ? { laionTars: cfg.download.output, laionProb: v.laion_prob } : {}),
        maxSteps: v.max_steps,
        // without LAION, trainVQ repeats (re-augmented) local images until max_steps
        batchSize: v.batch_size,
        evalEvery: v.eval_every,
        resume,
        onEvent: (e) => {
          if (e.type === "start") {
            lastStep = e.step;
            progress.log(
              `backend ${e.backend}, ${e.parameters.toLocaleString("en-US")} parameters, ${e.evalImages} eval images (${e.evalDistinct} distinct, ${e.heldOut ? "held out" : "not held out: folder too small"})` +
                (e.step > 0 ? `, resuming at step ${e.step}` : ""),
            );
          } else if (e.type === "step") {
            progress.tick(e.step - (lastStep ?? e.step - 1), {
              loss: e.loss,
              img_s: Math.round(e.imagesPerSecond),
              usage: e.batchUsage,
            });
            lastStep = e.step;
          } else if (e.type === "eval") {
            progress.log(
              `step ${e.step}: PSNR ${e.psnr.toFixed(2)} dB, codebook usage ${(100 * e.usage).toFixed(1)} %, grid ${e.grid}`,
            );
          }
        },
      });
      progress.done({ steps: result.steps });
      const ev = result.lastEval;
      log(
        `${result.steps} steps on ${result.backend}, ${result.imagesPerSecond.toFixed(1)} img/s` +
          (ev ? `; PSNR ${ev.psnr.toFixed(2)} dB, codebook usage ${(100 * ev.usage).toFixed(1)} %` : ""),
      );
      result.model.dispose();
    },
  };
}

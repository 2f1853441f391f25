import fs from "node:fs";
import path from "node:path";
import { createProgress } from "@laion/cli-kit";
import {
  checkpointStep,
  type TrainVQParams,
  trainVQ,
  trainVqArgs,
  VQ_PRESETS,
  type VQPresetName,
  vqStatus,
} from "@laion/vq";
import type { AppConfig } from "./app-config.js";
import { commandLine } from "./command-line.js";
import { checkFromStatus, type Stage } from "./stage.js";

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

function presetName(name: string): VQPresetName {
  if (!(name in VQ_PRESETS))
    throw new Error(
      `vq.preset "${name}" is not a @laion/vq preset; known: ${Object.keys(VQ_PRESETS).join(", ")}`,
    );
  return name as VQPresetName;
}

/** The app's vq section as @laion/vq params: one object for the run, the status and the printed command. */
export function vqParamsFor(params: VqStageParams): TrainVQParams & { maxSteps: number } {
  const { cfg, laion } = params;
  const v = cfg.vq;
  return {
    out: v.out,
    preset: presetName(v.preset),
    captions: cfg.local.captions,
    imageRoot: cfg.local.image_root,
    // laion_prob unset: @laion/vq's default applies (one home per setting)
    ...(laion ? { laionTars: cfg.download.output } : {}),
    ...(laion && v.laion_prob !== undefined ? { laionProb: v.laion_prob } : {}),
    maxSteps: v.max_steps,
    // without LAION, trainVQ repeats (re-augmented) local images until max_steps
    batchSize: v.batch_size,
    evalEvery: v.eval_every,
    // unset: @laion/vq's default (all cores on wasm, 1 elsewhere), for the run and the printed command alike
    ...(v.threads !== null ? { threads: v.threads } : {}),
    // unset: @laion/vq's default (every GPU nvidia-smi lists on a GPU backend, else 1)
    ...(v.devices !== null ? { devices: v.devices } : {}),
  };
}

/**
 * Stage 3: train the VQ image tokenizer with @laion/vq on the user's captioned images, plus the LAION
 * shards when LAION is on. @laion/vq says what the checkpoint is: complete (these settings and inputs,
 * max_steps reached), partial (resume with its optimizer state), or changed (e.g. LAION added: retrain).
 */
export function vqStage(params: VqStageParams): Stage {
  const { cfg, laion } = params;
  const v = cfg.vq;
  const local = cfg.local;
  const p = () => vqParamsFor(params);
  let ranOn: string | undefined;
  return {
    name: "train-vq",
    describe: () =>
      `${local.captions}${laion ? ` + ${cfg.download.output} (p=${p().laionProb ?? "default"})` : ""} → ${v.out} ` +
      `(${v.preset}, ${v.max_steps} steps)`,
    outputs: () => {
      const grid = latestReconstructionGrid(v.out);
      return [v.out, ...(grid ? [grid] : [])];
    },
    command: () => commandLine(["npx", "train-visual-vq", ...trainVqArgs({ ...p(), resume: true })]),
    check: async () => checkFromStatus(vqStatus(p())),
    ranOn: () => ranOn,
    run: async ({ resume, overwrite, log }) => {
      const resumedAt = resume ? (checkpointStep(v.out) ?? 0) : 0;
      const progress = createProgress({
        label: "steps",
        total: Math.max(0, v.max_steps - resumedAt),
        unit: "steps",
      });
      let lastStep: number | null = null;
      const result = await trainVQ({
        ...p(),
        resume,
        overwrite,
        log,
        onEvent: (e) => {
          if (e.type === "start") {
            lastStep = e.step;
            ranOn = `${e.backend}, ${e.threads} ${e.devices ? "device" : "thread"}${e.threads === 1 ? "" : "s"}`;
            for (const line of e.devices ?? []) progress.log(line);
            progress.log(
              `backend ${ranOn}, ${e.parameters.toLocaleString("en-US")} parameters, ${e.evalImages} eval images (${e.evalDistinct} distinct, ${e.heldOut ? "held out" : "not held out: folder too small"})` +
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
        `${result.steps} steps on ${ranOn ?? result.backend}, ${result.imagesPerSecond.toFixed(1)} img/s` +
          (ev ? `; PSNR ${ev.psnr.toFixed(2)} dB, codebook usage ${(100 * ev.usage).toFixed(1)} %` : ""),
      );
      result.model.dispose();
    },
  };
}

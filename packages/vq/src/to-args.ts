import { toArgs } from "@laion/cli-kit";
import type { TrainVQParams } from "./train-vq-params.js";

/** The `train-visual-vq` argv for these params; a model config object becomes --image-size/--codebook-size. */
export function trainVqArgs(params: TrainVQParams): string[] {
  return toArgs(params, {
    config: (c) => {
      const cfg = c as { imageSize?: number; codebookSize?: number };
      return [
        ...(cfg.imageSize !== undefined ? ["--image-size", String(cfg.imageSize)] : []),
        ...(cfg.codebookSize !== undefined ? ["--codebook-size", String(cfg.codebookSize)] : []),
      ];
    },
    laionTars: (v) => ["--laion-tars", ...(Array.isArray(v) ? v.map(String) : [String(v)])],
    samples: null,
    evalImages: null,
    evalCount: null,
    heldOutFraction: null,
    augment: null,
    warmupSteps: null,
  });
}

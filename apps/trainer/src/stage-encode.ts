import { createProgress, moveAside } from "@laion/cli-kit";
import { codeShardsStatus, encodeVqCodes } from "@laion/vq";
import type { AppConfig } from "./app-config.js";
import { commandLine } from "./command-line.js";
import type { Stage } from "./stage.js";

/**
 * Stage between train-vq and train when LAION is on: the downloaded image shards → VQ code shards
 * (encode.output), so the model's training reads stored codes instead of decoding every LAION JPEG and
 * running the encoder again each time it draws it. Complete when every image shard has its code shard
 * from this VQ (@laion/vq's codeShardsStatus); a retrained VQ makes the old codes "changed", and the stage
 * writes fresh ones beside them (`<output>.prev-<n>` keeps the old).
 */
export function encodeStage(params: { cfg: AppConfig }): Stage {
  const { cfg } = params;
  const e = cfg.encode;
  const request = { vqCheckpoint: cfg.vq.out, input: cfg.download.output, output: e.output };
  return {
    name: "encode",
    describe: () => `${cfg.download.output} → ${e.output} (codes of ${cfg.vq.out}, no images)`,
    outputs: () => [e.output],
    command: () =>
      commandLine([
        "npx",
        "encode-vq-codes",
        "--vq-checkpoint",
        cfg.vq.out,
        "--input",
        cfg.download.output,
        "--output",
        e.output,
        "--batch-size",
        e.batch_size,
      ]),
    check: async () => {
      const s = await codeShardsStatus(request).catch((err: Error) => ({
        state: "missing" as const,
        detail: err.message,
      }));
      return {
        complete: s.state === "complete",
        partial: s.state === "partial",
        ...(s.state === "changed" ? { changed: s.detail } : {}),
        detail: s.detail,
      };
    },
    run: async ({ log }) => {
      const status = await codeShardsStatus(request);
      if (status.state === "changed") log(`${status.detail}: the old codes moved to ${moveAside(e.output)}`);
      const progress = createProgress({ label: "images", unit: "images" });
      let last = 0;
      const r = await encodeVqCodes({
        ...request,
        batchSize: e.batch_size,
        onProgress: (p) => {
          if (p.done) last = 0;
          else {
            progress.tick(p.encoded - last, { shard: p.shard });
            last = p.encoded;
          }
        },
      });
      progress.done({ shards: r.shardsWritten, skipped: r.shardsSkipped, encoded: r.encoded });
      log(
        `${r.encoded} images → codes in ${r.shardsWritten} shards (${r.shardsSkipped} already done, ${r.failed} undecodable), VQ ${r.vq.id}`,
      );
    },
  };
}

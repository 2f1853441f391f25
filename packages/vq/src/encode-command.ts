import {
  type CliCommand,
  CliError,
  type CliIo,
  createProgress,
  intOption,
  type Progress,
  packageVersion,
  runCommand,
} from "@laion/cli-kit";
import type { Command } from "commander";
import { BACKEND_FLAG, backendFlag } from "./device-flags.js";
import { type EncodeProgress, type EncodeVqCodesParams, encodeVqCodes } from "./encode-vq-codes.js";
import { abortOnInterrupt } from "./train-command.js";

/** The flags of `encode-vq-codes` (commander's camelCased names). */
export interface EncodeVqCliOptions {
  vqCheckpoint: string;
  input: string[];
  output: string;
  workerIndex?: number;
  workerCount?: number;
  batchSize?: number;
  backend?: string;
  s3Endpoint?: string;
  json?: boolean;
}

function defineOptions(program: Command): void {
  program
    .optionsGroup("Input and output:")
    .requiredOption("--vq-checkpoint <file>", "VQ checkpoint written by train-visual-vq")
    .requiredOption(
      "--input <shards...>",
      "image shards: paths, folders, globs, {00000..00127} ranges, http(s)://, s3://",
    )
    .requiredOption(
      "--output <dir>",
      "output folder or s3://bucket/prefix (one code shard per image shard, same name)",
    )
    .option("--s3-endpoint <url>", "endpoint of an S3-compatible store for s3:// input/output")
    .optionsGroup("Workers and device:")
    .option(
      "--worker-index <i>",
      "this worker's index (default 0, or $JOB_COMPLETION_INDEX)",
      intOption("--worker-index", { min: 0 }),
    )
    .option(
      "--worker-count <n>",
      "workers sharing the shards (default 1)",
      intOption("--worker-count", { min: 1 }),
    )
    .option(
      "--batch-size <n>",
      "images per encoder pass (default 32)",
      intOption("--batch-size", { min: 1, max: 4096 }),
    )
    .option(...BACKEND_FLAG)
    .option("--json", "progress as JSON lines even on a terminal");
}

/** Flags → encodeVqCodes params (without the callbacks and signal); errors name the flag. */
export function encodeParams(o: EncodeVqCliOptions): Omit<EncodeVqCodesParams, "onProgress" | "signal"> {
  const backend = backendFlag(o.backend);
  return {
    vqCheckpoint: o.vqCheckpoint,
    input: o.input,
    output: o.output,
    ...(o.workerIndex !== undefined ? { workerIndex: o.workerIndex } : {}),
    ...(o.workerCount !== undefined ? { workerCount: o.workerCount } : {}),
    ...(o.batchSize !== undefined ? { batchSize: o.batchSize } : {}),
    ...(backend !== undefined ? { backend } : {}),
    ...(o.s3Endpoint !== undefined ? { s3Endpoint: o.s3Endpoint } : {}),
  };
}

/** Encoder events → the progress reporter: a tick per image, a line per skipped shard. */
function reportProgress(progress: Progress): (e: EncodeProgress) => void {
  let last = 0;
  return (e) => {
    if (e.done === "skipped") progress.log(`${e.shard}: already complete, skipped`);
    else if (e.done) last = 0;
    else {
      progress.tick(e.encoded - last, { shard: e.shard });
      last = e.encoded;
    }
  };
}

/** `encode-vq-codes`: flags → encodeVqCodes, with a progress bar (JSON lines when not a TTY). */
export const encodeVqCommand: CliCommand<EncodeVqCliOptions> = {
  name: "encode-vq-codes",
  version: () => packageVersion(import.meta.url),
  description:
    "Encode LAION image shards to VQ code shards once ({key}.json + {key}.txt + {key}.vq.npy, no image), for train-multimodal --laion-path.",
  define: defineOptions,
  async run(o, ctx) {
    const params = encodeParams(o);
    const progress = createProgress({
      label: "images",
      stream: ctx.progressStream,
      ...(o.json ? { json: true } : {}),
    });
    const interrupt = abortOnInterrupt(
      progress,
      "interrupted: the shard being written is dropped; rerun the same command to finish",
    );
    try {
      const result = await encodeVqCodes({
        ...params,
        signal: interrupt.signal,
        onProgress: reportProgress(progress),
      });
      progress.done({
        vq: result.vq.id,
        shards_written: result.shardsWritten,
        shards_skipped: result.shardsSkipped,
        encoded: result.encoded,
        failed: result.failed,
        seconds: Math.round(result.seconds),
        output: o.output,
      });
    } catch (err) {
      throw new CliError((err as Error).message);
    } finally {
      interrupt.dispose();
    }
  },
  secrets: (_o, env) => [env["AWS_SECRET_ACCESS_KEY"], env["AWS_SESSION_TOKEN"]],
};

/** Run `encode-vq-codes` with these arguments (tests pass their own streams and env). */
export function encodeVqCodesCli(argv: readonly string[], io: CliIo = {}): Promise<void> {
  return runCommand(encodeVqCommand, argv, io);
}

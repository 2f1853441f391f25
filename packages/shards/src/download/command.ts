import {
  boolOption,
  type CliCommand,
  type CliContext,
  CliError,
  createProgress,
  floatOption,
  intOption,
  type Progress,
  packageVersion,
} from "@laion/cli-kit";
import { type Command, InvalidArgumentError, Option } from "commander";
import { AddressPolicy } from "./address-safety.js";
import type { DownloadParams, DownloadProgress } from "./download-params.js";
import { defaultConcurrency, downloadShards } from "./download-shards.js";
import { RESIZE_MODES, type ResizeMode } from "./geometry.js";
import { InputError } from "./input.js";
import { INPUT_FORMATS, type InputFormat } from "./input-formats.js";
import { DEFAULT_LIMIT_INPUT_PIXELS, ENCODE_FORMATS, type EncodeFormat, MAX_IMAGE_SIZE } from "./resize.js";
import { DEFAULT_DISALLOWED_DIRECTIVES } from "./robots.js";
import type { RunStats } from "./stats.js";
import { OutputError } from "./storage.js";

/** The options commander hands over (camelCased flags). */
export interface DownloadCliOptions {
  input: string[];
  output: string;
  inputFormat?: InputFormat;
  urlCol?: string;
  captionCol?: string;
  saveAdditionalColumns?: string;
  imageSize: number;
  resizeMode: ResizeMode;
  resizeOnlyIfBigger: boolean;
  minImageSize: number;
  maxAspectRatio?: number;
  encodeFormat: EncodeFormat;
  encodeQuality?: number;
  limitInputPixels: number;
  shardSize: number;
  concurrency: number;
  timeout: number;
  retries: number;
  maxRedirects: number;
  maxBodyBytes: number;
  disallowRobotsHeader: boolean;
  allowPrivateAddresses: boolean;
  allowAddress?: string[];
  workerIndex?: number;
  workerCount: number;
  splitBy: "shard" | "file";
  s3Endpoint?: string;
  s3Region?: string;
  json?: boolean;
  overwrite?: boolean;
  minSuccessRate: number;
}

/** Flags → library params: the CLI adds no behaviour of its own. */
export function cliOptionsToParams(o: DownloadCliOptions): DownloadParams {
  return {
    input: o.input,
    output: o.output,
    ...(o.inputFormat ? { inputFormat: o.inputFormat } : {}),
    ...(o.urlCol !== undefined ? { urlCol: o.urlCol } : {}),
    // --caption-col "" downloads without captions
    ...(o.captionCol !== undefined ? { captionCol: o.captionCol === "" ? null : o.captionCol } : {}),
    ...(o.saveAdditionalColumns
      ? {
          saveAdditionalColumns: o.saveAdditionalColumns
            .split(",")
            .map((c) => c.trim())
            .filter(Boolean),
        }
      : {}),
    imageSize: o.imageSize,
    resizeMode: o.resizeMode,
    resizeOnlyIfBigger: o.resizeOnlyIfBigger,
    minImageSize: o.minImageSize,
    ...(o.maxAspectRatio !== undefined ? { maxAspectRatio: o.maxAspectRatio } : {}),
    encodeFormat: o.encodeFormat,
    ...(o.encodeQuality !== undefined ? { encodeQuality: o.encodeQuality } : {}),
    limitInputPixels: o.limitInputPixels,
    shardSize: o.shardSize,
    concurrency: o.concurrency,
    timeoutMs: Math.round(o.timeout * 1000),
    retries: o.retries,
    maxRedirects: o.maxRedirects,
    maxBodyBytes: o.maxBodyBytes,
    disallowedDirectives: o.disallowRobotsHeader ? DEFAULT_DISALLOWED_DIRECTIVES : [],
    allowPrivateAddresses: o.allowPrivateAddresses,
    ...(o.allowAddress?.length ? { allowAddresses: o.allowAddress } : {}),
    ...(o.workerIndex !== undefined ? { workerIndex: o.workerIndex } : {}),
    workerCount: o.workerCount,
    ...(o.splitBy === "file" ? { splitBy: "file" as const } : {}),
    ...(o.s3Endpoint ? { s3Endpoint: o.s3Endpoint } : {}),
    ...(o.s3Region ? { region: o.s3Region } : {}),
    overwrite: o.overwrite ?? false,
    minSuccessRate: o.minSuccessRate,
  };
}

/** One line per reason, most frequent first. */
export function formatSummary(stats: RunStats): string {
  const pct = (n: number) => (stats.count ? ((100 * n) / stats.count).toFixed(1) : "0.0");
  const lines = [
    `${stats.count} samples: ${stats.successes} ok (${pct(stats.successes)}%), ${stats.failed_to_download} failed to download, ${stats.failed_to_resize} failed to resize; ${stats.shards_written} shards written, ${stats.shards_skipped} already complete → ${stats.output}`,
  ];
  const reasons = Object.entries(stats.status_dict)
    .filter(([k]) => k !== "success")
    .sort((a, b) => b[1] - a[1]);
  for (const [reason, n] of reasons.slice(0, 15)) lines.push(`  ${String(n).padStart(8)}  ${reason}`);
  if (reasons.length > 15) lines.push(`  … and ${reasons.length - 15} more reasons (see stats.json)`);
  return lines.join("\n");
}

/** The input file(s) and which of their columns are read. */
function defineInput(program: Command): void {
  program
    .optionsGroup("Input:")
    .requiredOption(
      "--input <paths...>",
      "input file(s), folder(s), glob(s), http(s):// or s3:// URLs (s3://bucket/prefix/ lists it): .parquet, .csv, .tsv, .jsonl, .txt; text formats may end in .gz or .zst",
    )
    .addOption(
      new Option("--input-format <format>", "input format, when the extension does not say").choices(
        INPUT_FORMATS,
      ),
    )
    .option("--url-col <name>", 'URL column (default "URL", else any-case "url")')
    .option(
      "--caption-col <name>",
      'caption column (default "TEXT", else any-case "caption"/"text"); "" for none',
    )
    .option(
      "--save-additional-columns <a,b,...>",
      "input columns copied into each sample's .json and the shard parquet",
    );
}

/** Size, resize mode, filters and encoding: img2dataset's resizer options. */
function defineImage(program: Command): void {
  program
    .optionsGroup("Images:")
    .option(
      "--image-size <px>",
      `target size (at most ${MAX_IMAGE_SIZE})`,
      intOption("--image-size", { min: 1, max: MAX_IMAGE_SIZE }),
      256,
    )
    .addOption(
      new Option("--resize-mode <mode>", "how images are fitted to the size")
        .choices(Object.keys(RESIZE_MODES))
        .default("center_crop"),
    )
    .option("--resize-only-if-bigger [bool]", "never upscale", boolOption("--resize-only-if-bigger"), false)
    .option(
      "--min-image-size <px>",
      "skip images whose shorter side is smaller",
      intOption("--min-image-size", { min: 0 }),
      0,
    )
    .option(
      "--max-aspect-ratio <ratio>",
      "skip images more elongated than this",
      floatOption("--max-aspect-ratio", { min: 1 }),
    )
    .addOption(
      new Option("--encode-format <format>", "output image format").choices(ENCODE_FORMATS).default("jpg"),
    )
    .option(
      "--encode-quality <q>",
      "jpg/webp quality 0-100 (default 95); png compression 0-9",
      intOption("--encode-quality", { min: 0, max: 100 }),
    )
    .option(
      "--limit-input-pixels <n>",
      "refuse images with more pixels (decompression bombs)",
      intOption("--limit-input-pixels", { min: 1 }),
      DEFAULT_LIMIT_INPUT_PIXELS,
    );
}

/** `--allow-address` values accumulate, each checked as it comes so the error names the bad one. */
function allowAddress(value: string, previous: string[] = []): string[] {
  try {
    new AddressPolicy({ allowAddresses: [value] });
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
  return [...previous, value];
}

/** Concurrency, timeouts, retries, limits and which destinations may be contacted. */
function defineNetwork(program: Command): void {
  program
    .optionsGroup("Network:")
    .option(
      "--concurrency <n>",
      "downloads in flight",
      intOption("--concurrency", { min: 1, max: 4096 }),
      defaultConcurrency(),
    )
    .option(
      "--timeout <seconds>",
      "per-request timeout, body included",
      floatOption("--timeout", { min: 0.001 }),
      10,
    )
    .option(
      "--retries <n>",
      "retries after 5xx, 429 or network errors (exponential backoff with jitter)",
      intOption("--retries", { min: 0, max: 20 }),
      2,
    )
    .option(
      "--max-redirects <n>",
      "redirects followed",
      intOption("--max-redirects", { min: 0, max: 50 }),
      10,
    )
    .option(
      "--max-body-bytes <n>",
      "largest image body accepted",
      intOption("--max-body-bytes", { min: 1 }),
      50 * 1024 * 1024,
    )
    .option(
      "--disallow-robots-header <bool>",
      "respect X-Robots-Tag noai/noimageai/noindex/noimageindex",
      boolOption("--disallow-robots-header"),
      true,
    )
    .option(
      "--allow-address <ip|cidr|host>",
      "allow just this non-public destination (repeatable), e.g. 127.0.0.1 for a local server; link-local (169.254.0.0/16) only when named",
      allowAddress,
    )
    .option(
      "--allow-private-addresses",
      "allow every destination, cloud metadata included (prefer --allow-address)",
      false,
    );
}

/** Where the shards go, how big they are, how workers split them, and when a run counts as failed. */
function defineOutput(program: Command): void {
  program
    .optionsGroup("Output:")
    .requiredOption("--output <dir>", "output folder, or s3://bucket/prefix")
    .option(
      "--shard-size <n>",
      "samples per shard (img2dataset's number_sample_per_shard)",
      intOption("--shard-size", { min: 1 }),
      10_000,
    )
    .option(
      "--worker-index <i>",
      "this worker's index (default: $JOB_COMPLETION_INDEX)",
      intOption("--worker-index", { min: 0 }),
    )
    .option(
      "--worker-count <n>",
      "number of workers splitting the work",
      intOption("--worker-count", { min: 1 }),
      1,
    )
    .addOption(
      new Option(
        "--split-by <how>",
        "shard: every worker reads every input file and writes every N-th shard; file: worker I reads only every N-th input file (many files)",
      )
        .choices(["shard", "file"])
        .default("shard"),
    )
    .option("--s3-endpoint <url>", "S3-compatible endpoint for s3:// output (else $AWS_ENDPOINT_URL)")
    .option("--s3-region <region>", "S3 region (else $AWS_REGION, then us-east-1)")
    .option("--json", "progress as JSON lines even on a terminal")
    .option(
      "--overwrite",
      "when the output was made with other settings or input: keep it as <output>.prev-<n> and start over",
    )
    .option(
      "--min-success-rate <r>",
      "exit non-zero when fewer than this fraction of the images were downloaded (0 images always fails)",
      floatOption("--min-success-rate", { min: 0, max: 1 }),
      0,
    );
}

/** A progress reporter created on the first event, when the row total (if any) is known. */
function downloadProgress(o: DownloadCliOptions, ctx: CliContext) {
  let progress: Progress | undefined;
  let last = 0;
  const onProgress = (p: DownloadProgress) => {
    progress ??= createProgress({
      label: "images",
      unit: "images",
      stream: ctx.progressStream,
      ...(p.total_rows !== undefined && o.workerCount === 1 ? { total: p.total_rows } : {}),
      ...(o.json ? { json: true } : {}),
    });
    const fields = {
      success_rate: p.done ? Number((p.successes / p.done).toFixed(3)) : 0,
      shards: p.shards_written,
    };
    if (p.done > last) progress.tick(p.done - last, fields);
    else progress.update(fields);
    last = p.done;
  };
  return { onProgress, done: (summary?: Record<string, number>) => progress?.done(summary) };
}

/** `download-laion-images`: typed flags → downloadShards, with progress on stderr and a summary on stdout. */
export const downloadCommand: CliCommand<DownloadCliOptions> = {
  name: "download-laion-images",
  version: () => packageVersion(import.meta.url),
  description:
    "Download the images of a URL list (parquet, csv, tsv, jsonl, txt) into img2dataset-compatible webdataset shards: {shard}.tar with {key}.jpg/.txt/.json, {shard}.parquet, {shard}_stats.json.",
  define(program) {
    defineInput(program);
    defineImage(program);
    defineNetwork(program);
    defineOutput(program);
  },
  async run(o, ctx) {
    if (o.allowPrivateAddresses)
      ctx.stderr.write(
        "warning: --allow-private-addresses: every destination is allowed, loopback, private networks and cloud metadata (169.254.169.254) included; use --allow-address <ip|cidr|host> to allow just what you need\n",
      );
    const progress = downloadProgress(o, ctx);
    try {
      const stats = await downloadShards({
        ...cliOptionsToParams(o),
        onLog: ctx.log,
        onProgress: progress.onProgress,
      });
      progress.done({ successes: stats.successes, count: stats.count });
      ctx.stdout.write(`${formatSummary(stats)}\n`);
    } catch (err) {
      progress.done();
      if (err instanceof InputError || err instanceof OutputError) throw new CliError(err.message);
      throw err;
    }
  },
  secrets: (_o, env) => [env["AWS_SECRET_ACCESS_KEY"], env["AWS_SESSION_TOKEN"]],
};

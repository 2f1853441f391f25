import { boolOption, CliError, createProgress, floatOption, intOption } from "@laion/cli-kit";
import { Command, InvalidArgumentError, Option } from "commander";
import { AddressPolicy } from "./address-safety.js";
import { type DownloadParams, defaultConcurrency, downloadShards } from "./download-shards.js";
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

export function createDownloadCli(
  io: { stdout?: NodeJS.WritableStream; stderr?: NodeJS.WritableStream } = {},
): Command {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  const int = (flag: string, min: number, max?: number) =>
    intOption(flag, max === undefined ? { min } : { min, max });
  return new Command("download-laion-images")
    .description(
      "Download the images of a URL list (parquet, csv, tsv, jsonl, txt) into img2dataset-compatible webdataset shards: {shard}.tar with {key}.jpg/.txt/.json, {shard}.parquet, {shard}_stats.json.",
    )
    .requiredOption(
      "--input <paths...>",
      "input file(s), folder(s), glob(s), http(s):// or s3:// URLs (s3://bucket/prefix/ lists it): .parquet, .csv, .tsv, .jsonl, .txt; text formats may end in .gz or .zst",
    )
    .requiredOption("--output <dir>", "output folder, or s3://bucket/prefix")
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
    )
    .option(
      "--image-size <px>",
      `target size (at most ${MAX_IMAGE_SIZE})`,
      int("--image-size", 1, MAX_IMAGE_SIZE),
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
      int("--min-image-size", 0),
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
      int("--encode-quality", 0, 100),
    )
    .option(
      "--limit-input-pixels <n>",
      "refuse images with more pixels (decompression bombs)",
      int("--limit-input-pixels", 1),
      DEFAULT_LIMIT_INPUT_PIXELS,
    )
    .option(
      "--shard-size <n>",
      "samples per shard (img2dataset's number_sample_per_shard)",
      int("--shard-size", 1),
      10_000,
    )
    .option("--concurrency <n>", "downloads in flight", int("--concurrency", 1, 4096), defaultConcurrency())
    .option(
      "--timeout <seconds>",
      "per-request timeout, body included",
      floatOption("--timeout", { min: 0.001 }),
      10,
    )
    .option(
      "--retries <n>",
      "retries after 5xx, 429 or network errors (exponential backoff with jitter)",
      int("--retries", 0, 20),
      2,
    )
    .option("--max-redirects <n>", "redirects followed", int("--max-redirects", 0, 50), 10)
    .option(
      "--max-body-bytes <n>",
      "largest image body accepted",
      int("--max-body-bytes", 1),
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
      (value: string, previous: string[] = []) => {
        try {
          new AddressPolicy({ allowAddresses: [value] });
        } catch (error) {
          throw new InvalidArgumentError((error as Error).message);
        }
        return [...previous, value];
      },
    )
    .option(
      "--allow-private-addresses",
      "allow every destination, cloud metadata included (prefer --allow-address)",
      false,
    )
    .option(
      "--worker-index <i>",
      "this worker's index (default: $JOB_COMPLETION_INDEX)",
      int("--worker-index", 0),
    )
    .option("--worker-count <n>", "number of workers splitting the shards", int("--worker-count", 1), 1)
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
    )
    .action(async (options: DownloadCliOptions) => {
      const params = cliOptionsToParams(options);
      if (options.allowPrivateAddresses)
        stderr.write(
          "warning: --allow-private-addresses: every destination is allowed, loopback, private networks and cloud metadata (169.254.169.254) included; use --allow-address <ip|cidr|host> to allow just what you need\n",
        );
      let progress: ReturnType<typeof createProgress> | undefined;
      let last = 0;
      try {
        const stats = await downloadShards({
          ...params,
          onLog: (m) => stderr.write(`${m}\n`),
          onProgress: (p) => {
            progress ??= createProgress({
              label: "images",
              unit: "images",
              stream: stderr,
              ...(p.total_rows !== undefined && params.workerCount === 1 ? { total: p.total_rows } : {}),
              ...(options.json ? { json: true } : {}),
            });
            const fields = {
              success_rate: p.done ? Number((p.successes / p.done).toFixed(3)) : 0,
              shards: p.shards_written,
            };
            if (p.done > last) progress.tick(p.done - last, fields);
            else progress.update(fields);
            last = p.done;
          },
        });
        progress?.done({ successes: stats.successes, count: stats.count });
        stdout.write(`${formatSummary(stats)}\n`);
      } catch (err) {
        progress?.done();
        if (err instanceof InputError || err instanceof OutputError) throw new CliError(err.message);
        throw err;
      }
    });
}

import {
  type CliCommand,
  CliError,
  type CliSubcommand,
  createProgress,
  floatOption,
  intOption,
  packageVersion,
} from "@laion/cli-kit";
import { type Command, Option } from "commander";
import type { ErrorHandler } from "./errors.js";
import { datasetStats, summarizeSample } from "./inspect.js";
import { DEFAULT_HTTP_TIMEOUT_MS } from "./open-shard.js";
import { DEFAULT_MAX_MEMBER_BYTES } from "./tar-members.js";
import { WebDataset } from "./web-dataset.js";

interface Flags {
  urls: string[];
  json?: boolean;
  s3Endpoint?: string;
  handler: ErrorHandler;
  limit?: number;
  maxMemberBytes: number;
  timeout: number;
  cacheDir?: string;
  cacheLimit?: number;
}

/** The reader options the flags set (the CLI adds no behaviour of its own). */
const readerOptions = (flags: Flags) => ({
  handler: flags.handler,
  s3Endpoint: flags.s3Endpoint,
  maxMemberBytes: flags.maxMemberBytes,
  timeoutMs: Math.round(flags.timeout * 1000),
  ...(flags.cacheDir === undefined ? {} : { cacheDir: flags.cacheDir }),
  ...(flags.cacheLimit === undefined ? {} : { cacheLimitBytes: flags.cacheLimit }),
});

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  k: 1e3,
  m: 1e6,
  g: 1e9,
  t: 1e12,
  ki: 2 ** 10,
  mi: 2 ** 20,
  gi: 2 ** 30,
  ti: 2 ** 40,
};

/** `--cache-limit 500M`, `20G`, `1.5TiB` or plain bytes → bytes. */
export function parseByteSize(flag: string, raw: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?)?b?\s*$/i.exec(raw);
  const bytes = m
    ? Math.floor(Number(m[1]) * (SIZE_UNITS[(m[2] ?? "").toLowerCase()] as number))
    : Number.NaN;
  if (!(bytes >= 1) || !Number.isSafeInteger(bytes)) {
    throw new CliError(
      `${flag} must be a size such as 500M, 20G or 1.5TiB (or bytes), got ${JSON.stringify(raw)}`,
    );
  }
  return bytes;
}

/** --max-member-bytes, --timeout and the shard cache, on every subcommand. */
function addLimitOptions(command: Command): Command {
  return command
    .optionsGroup("Limits and cache:")
    .option(
      "--max-member-bytes <n>",
      "members larger than this (as stored or gunzipped) are skipped with an error naming them",
      intOption("--max-member-bytes", { min: 1 }),
      DEFAULT_MAX_MEMBER_BYTES,
    )
    .option(
      "--timeout <s>",
      "http(s) shards: longest wait for the headers and for each body chunk, in seconds",
      floatOption("--timeout", { min: 0.001 }),
      DEFAULT_HTTP_TIMEOUT_MS / 1000,
    )
    .option(
      "--cache-dir <dir>",
      "keep a local copy of each http(s)/s3 shard here (read once, then from disk)",
    )
    .option(
      "--cache-limit <size>",
      "trim the cache to this size, least recently used shards first (e.g. 500M, 20G; default: no limit)",
      (raw: string) => parseByteSize("--cache-limit", raw),
    );
}

const URLS =
  "shards: paths, folders, globs, {000..009} patterns, http(s)://, s3://bucket/key (or prefix/), pipe:command";

const handlerOption = (fallback: ErrorHandler) =>
  new Option("--handler <policy>", "what to do with unreadable shards")
    .choices(["raise", "warnAndContinue", "ignore"])
    .default(fallback);

const s3Option = () =>
  new Option(
    "--s3-endpoint <url>",
    "endpoint of an S3-compatible store (default: $AWS_ENDPOINT_URL_S3 / $AWS_ENDPOINT_URL)",
  );

/** Writes and waits for the pipe to drain, so `laion-shards ls huge/ | head` holds no backlog. */
async function write(stdout: NodeJS.WritableStream, text: string): Promise<void> {
  if (!stdout.write(text)) await new Promise((resolve) => stdout.once("drain", resolve));
}

/** `laion-shards ls`: one line per sample, key then ext:bytes (or JSON lines). */
const lsCommand: CliSubcommand<Flags> = {
  name: "ls",
  description: "one line per sample: key, then ext:bytes for each member",
  define(command) {
    command
      .argument("<urls...>", URLS)
      .optionsGroup("Output:")
      .option("--json", "JSON lines: {__key__, __url__, members: {ext: bytes}}")
      .option("--limit <n>", "stop after n samples", intOption("--limit", { min: 1 }))
      .optionsGroup("Reading:")
      .addOption(s3Option())
      .addOption(handlerOption("raise"));
    addLimitOptions(command);
  },
  async run(flags, ctx) {
    let n = 0;
    for await (const sample of WebDataset(flags.urls, readerOptions(flags))) {
      const s = summarizeSample(sample);
      const sizes = Object.entries(s.members).map(([ext, bytes]) => `${ext}:${bytes}`);
      await write(ctx.stdout, `${flags.json ? JSON.stringify(s) : `${s.__key__}\t${sizes.join(" ")}`}\n`);
      if (flags.limit !== undefined && ++n >= flags.limit) break;
    }
  },
};

/** The stats as aligned lines: totals, then per extension, then the errors. */
function formatStats(stats: Awaited<ReturnType<typeof datasetStats>>): string {
  const extensions = Object.entries(stats.extensions).sort(([a], [b]) => a.localeCompare(b));
  return [
    `shards   ${stats.shards}`,
    `samples  ${stats.samples}`,
    `bytes    ${stats.bytes}`,
    ...extensions.map(([ext, e]) => `  ${ext}\t${e.count} samples\t${e.bytes} bytes`),
    `errors   ${stats.errors.length}`,
    ...stats.errors.map((e) => `  ${e.message}`),
  ].join("\n");
}

/** `laion-shards stats`: totals over the shards; exit code 1 when a shard could not be read. */
const statsCommand: CliSubcommand<Flags> = {
  name: "stats",
  description:
    "shards, samples, bytes, per-extension counts and errors (exit code 1 if any error, unless --handler ignore)",
  define(command) {
    command
      .argument("<urls...>", URLS)
      .optionsGroup("Output:")
      .option("--json", "print the stats as one JSON object")
      .optionsGroup("Reading:")
      .addOption(s3Option())
      .addOption(handlerOption("warnAndContinue"));
    addLimitOptions(command);
  },
  async run(flags, ctx) {
    const progress = createProgress({ label: "samples", stream: ctx.progressStream });
    const stats = await datasetStats({
      urls: flags.urls,
      options: readerOptions(flags),
      onSample: () => progress.tick(),
    });
    progress.done();
    await write(ctx.stdout, `${flags.json ? JSON.stringify(stats) : formatStats(stats)}\n`);
    if (stats.errors.length > 0 && flags.handler !== "ignore") {
      throw new CliError(`${stats.errors.length} shard(s) could not be read completely`);
    }
  },
};

/** `laion-shards ls|stats`: look inside webdataset shards. */
export const shardsCommand: CliCommand<never> = {
  name: "laion-shards",
  version: () => packageVersion(import.meta.url),
  description: "Look inside webdataset shards.",
  subcommands: [lsCommand, statsCommand],
};

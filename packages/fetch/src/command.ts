import {
  type CliCommand,
  type CliIo,
  createProgress,
  floatOption,
  intOption,
  packageVersion,
  runCommand,
} from "@laion/cli-kit";
import type { Command } from "commander";
import { DEFAULT_DEDUPE_FPR } from "./bloom.js";
import { type FetchLaionSubsetParams, fetchLaionSubset } from "./fetch-subset.js";
import type { FilterParams } from "./filters.js";
import { OWN_PROCESS_MEMORY } from "./heap-hint.js";
import { DEFAULT_HUB_URL } from "./http.js";
import { DEFAULT_HF_DATASET, SUBSETS } from "./sources.js";
import { DEFAULT_ROW_GROUP_SIZE } from "./write-filtered.js";

/** The parsed flags of `fetch-laion-subset` (commander's camelCased names); the filters are FilterParams'. */
export interface FetchCliOptions extends FilterParams {
  hfDataset: string;
  revision: string;
  subset?: string;
  numParts?: number;
  partsUrl?: string;
  input?: string[];
  hubUrl?: string;
  hfToken?: string;
  urlCol?: string;
  captionCol?: string;
  maxSamples?: number;
  maxRowsPerFile?: number;
  seed: number;
  shuffle?: boolean;
  shuffleBuffer?: number;
  dedupeUrls?: boolean;
  dedupeExpectedRows?: number;
  dedupeFpr: number;
  outDir: string;
  resume?: boolean;
  overwrite?: boolean;
  rowGroupSize: number;
  timeout: number;
  retries: number;
}

/** The token: --hf-token, else $HF_TOKEN (an empty one counts as none). */
const tokenOf = (o: Partial<FetchCliOptions>, env: NodeJS.ProcessEnv) =>
  o.hfToken ?? (env["HF_TOKEN"] || undefined);

/** Flags → fetchLaionSubset params (without the callbacks): renames and unit changes only. */
export function fetchParams(
  o: FetchCliOptions,
  env: NodeJS.ProcessEnv,
): Omit<FetchLaionSubsetParams, "onLog" | "onProgress"> {
  const { hfToken: _token, timeout, shuffle, dedupeUrls, resume, overwrite, ...same } = o;
  return {
    ...same,
    token: tokenOf(o, env),
    shuffle: Boolean(shuffle),
    dedupeUrls: Boolean(dedupeUrls),
    resume: Boolean(resume),
    overwrite: Boolean(overwrite),
    timeoutMs: timeout * 1000,
  };
}

function defineSource(program: Command): void {
  program
    .optionsGroup("Source (the hub by default):")
    .option("--hf-dataset <repo>", "Hugging Face dataset whose parquet files are read", DEFAULT_HF_DATASET)
    .option("--revision <rev>", "dataset revision (branch, tag or commit)", "main")
    .option("--subset <name>", `original LAION part files instead: ${Object.keys(SUBSETS).join(", ")}`)
    .option(
      "--num-parts <n>",
      "how many part files of --subset (from part 00000)",
      intOption("--num-parts", { min: 1 }),
    )
    .option("--parts-url <template>", "part-file URL template with {part} (00000) or {i}, and {hub}")
    .option("--input <pathsOrUrls...>", "local parquet files or http(s) URLs (instead of the hub)")
    .option(
      "--hub-url <url>",
      `Hugging Face hub (or mirror) base URL (default: $HF_ENDPOINT, else ${DEFAULT_HUB_URL})`,
    )
    .option(
      "--hf-token <token>",
      "Hugging Face token (default: $HF_TOKEN); sent as a Bearer header, never printed",
    )
    .option("--url-col <name>", "source column holding the image URL (default: detected)")
    .option("--caption-col <name>", "source column holding the caption (default: detected)");
}

function defineSelection(program: Command): void {
  program
    .optionsGroup("Rows taken:")
    .option("--max-samples <n>", "stop after this many kept rows", intOption("--max-samples", { min: 1 }))
    .option(
      "--max-rows-per-file <n>",
      "read at most n rows of each input file (a sample spread over many files)",
      intOption("--max-rows-per-file", { min: 1 }),
    )
    .option("--seed <n>", "seed for --shuffle", intOption("--seed"), 0)
    .option("--shuffle", "shuffle the file order and rows (bounded buffer, seeded)")
    .option(
      "--shuffle-buffer <rows>",
      "rows held by the shuffle buffer",
      intOption("--shuffle-buffer", { min: 1 }),
    );
}

function defineFilters(program: Command): void {
  program
    .optionsGroup("Filters (each only where its column exists):")
    .option(
      "--min-caption-len <n>",
      "drop captions shorter than n characters",
      intOption("--min-caption-len", { min: 0 }),
    )
    .option(
      "--max-caption-len <n>",
      "drop captions longer than n characters",
      intOption("--max-caption-len", { min: 1 }),
    )
    .option("--min-width <px>", "drop rows with WIDTH < px", intOption("--min-width", { min: 0 }))
    .option("--min-height <px>", "drop rows with HEIGHT < px", intOption("--min-height", { min: 0 }))
    .option(
      "--max-aspect-ratio <r>",
      "drop rows with max(W,H)/min(W,H) > r",
      floatOption("--max-aspect-ratio", { min: 1 }),
    )
    .option(
      "--max-punsafe <p>",
      "drop rows with punsafe > p",
      floatOption("--max-punsafe", { min: 0, max: 1 }),
    )
    .option(
      "--max-pwatermark <p>",
      "drop rows with pwatermark > p",
      floatOption("--max-pwatermark", { min: 0, max: 1 }),
    )
    .option(
      "--min-similarity <s>",
      "drop rows with similarity < s",
      floatOption("--min-similarity", { min: -1, max: 1 }),
    )
    .option("--lang <codes...>", "keep rows whose LANGUAGE is one of these")
    .option("--dedupe-urls", "drop repeated URLs (Bloom filter, bounded memory)")
    .option(
      "--dedupe-expected-rows <n>",
      "distinct URLs the Bloom filter is sized for (default: --max-samples, else 50M)",
      intOption("--dedupe-expected-rows", { min: 1 }),
    )
    .option(
      "--dedupe-fpr <p>",
      "Bloom filter false-positive rate",
      floatOption("--dedupe-fpr", { min: 1e-9, max: 0.5 }),
      DEFAULT_DEDUPE_FPR,
    );
}

function defineOutput(program: Command): void {
  program
    .optionsGroup("Output and network:")
    .option("--out-dir <dir>", "output directory", "data/laion")
    .option("--resume", "continue a crashed run with the same arguments")
    .option(
      "--overwrite",
      "when --out-dir holds a result made with other filters or inputs: replace it, keeping it as filtered.parquet.prev-<n>",
    )
    .option(
      "--row-group-size <rows>",
      "rows per output row group",
      intOption("--row-group-size", { min: 1 }),
      DEFAULT_ROW_GROUP_SIZE,
    )
    .option("--timeout <seconds>", "per-request timeout", floatOption("--timeout", { min: 0.001 }), 60)
    .option(
      "--retries <n>",
      "retries for HTTP 429/5xx and network errors",
      intOption("--retries", { min: 0 }),
      2,
    );
}

/** `fetch-laion-subset`: typed flags → fetchLaionSubset, with a progress reporter; prints the output path. */
export const fetchCommand: CliCommand<FetchCliOptions> = {
  name: "fetch-laion-subset",
  version: () => packageVersion(import.meta.url),
  description:
    "Stream LAION metadata (Hugging Face dataset, LAION part files or any parquet), filter it, write OUT/filtered.parquet + OUT/fetch_stats.json",
  define(program) {
    defineSource(program);
    defineSelection(program);
    defineFilters(program);
    defineOutput(program);
  },
  async run(o, ctx) {
    const progress = createProgress({ label: "fetch", unit: "rows", stream: ctx.progressStream });
    let lastRead = 0;
    const { stats, outPath } = await fetchLaionSubset({
      ...fetchParams(o, ctx.env),
      // the bin's process is the fetch's own: let it start GCs early (the library does not by default)
      memory: OWN_PROCESS_MEMORY,
      onLog: (m) => progress.log(m),
      onProgress: (s) => {
        progress.tick(s.rows_read - lastRead, {
          kept: s.rows_kept,
          files: `${s.files_done}/${s.files_total}`,
          MB: Number((s.bytes_fetched / 1e6).toFixed(1)),
        });
        lastRead = s.rows_read;
      },
    });
    progress.done({ kept: stats.rows_kept, read: stats.rows_read, bytes_fetched: stats.bytes_fetched });
    ctx.stdout.write(`${outPath}\n`);
  },
  secrets: (o, env) => [tokenOf(o, env), env["HF_TOKEN"]],
};

/** Run `fetch-laion-subset` with these arguments (tests pass their own streams and env). */
export function main(argv: readonly string[], io: CliIo = {}): Promise<void> {
  return runCommand(fetchCommand, argv, io);
}

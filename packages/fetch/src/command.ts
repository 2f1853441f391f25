import { createProgress, floatOption, intOption, runCli } from "@laion/cli-kit";
import { Command } from "commander";
import { DEFAULT_DEDUPE_FPR } from "./bloom.js";
import { fetchLaionSubset } from "./fetch-subset.js";
import { DEFAULT_HF_DATASET, DEFAULT_HUB_URL, SUBSETS } from "./sources.js";

export interface CommandIo {
  env?: NodeJS.ProcessEnv;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream & { isTTY?: boolean };
  setExitCode?: (code: number) => void;
}

/**
 * `fetch-laion-subset`: flags → fetchLaionSubset params, a progress reporter, and error printing
 * with the token scrubbed. No logic of its own.
 */
export async function main(argv: readonly string[], io: CommandIo = {}): Promise<void> {
  const env = io.env ?? process.env;
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  let token: string | undefined = env["HF_TOKEN"] || undefined;
  const program = new Command("fetch-laion-subset")
    .description(
      "Stream LAION metadata (Hugging Face dataset, LAION part files or any parquet), filter it, write OUT/filtered.parquet + OUT/fetch_stats.json",
    )
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
    .option("--max-samples <n>", "stop after this many kept rows", intOption("--max-samples", { min: 1 }))
    .option(
      "--max-rows-per-file <n>",
      "read at most n rows of each input file (a sample spread over many files)",
      intOption("--max-rows-per-file", { min: 1 }),
    )
    .option("--out-dir <dir>", "output directory", "data/laion")
    .option("--seed <n>", "seed for --shuffle", intOption("--seed"), 0)
    .option("--shuffle", "shuffle the file order and rows (bounded buffer, seeded)")
    .option(
      "--shuffle-buffer <rows>",
      "rows held by the shuffle buffer",
      intOption("--shuffle-buffer", { min: 1 }),
    )
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
    )
    .option("--url-col <name>", "source column holding the image URL (default: detected)")
    .option("--caption-col <name>", "source column holding the caption (default: detected)")
    .option("--resume", "continue a crashed run with the same arguments")
    .option(
      "--overwrite",
      "when --out-dir holds a result made with other filters or inputs: replace it, keeping it as filtered.parquet.prev-<n>",
    )
    .option(
      "--row-group-size <rows>",
      "rows per output row group",
      intOption("--row-group-size", { min: 1 }),
      100_000,
    )
    .option("--timeout <seconds>", "per-request timeout", floatOption("--timeout", { min: 0.001 }), 60)
    .option(
      "--retries <n>",
      "retries for HTTP 429/5xx and network errors",
      intOption("--retries", { min: 0 }),
      2,
    )
    .exitOverride()
    .configureOutput({ writeOut: (s) => stdout.write(s), writeErr: (s) => stderr.write(s) });

  await runCli(
    async () => {
      await program.parseAsync([...argv], { from: "user" });
      const o = program.opts();
      if (o["hfToken"]) token = o["hfToken"];
      const progress = createProgress({ label: "fetch", unit: "rows", stream: stderr });
      let lastRead = 0;
      const { stats, outPath } = await fetchLaionSubset({
        outDir: o["outDir"],
        input: o["input"],
        subset: o["subset"],
        numParts: o["numParts"],
        partsUrl: o["partsUrl"],
        hfDataset: o["hfDataset"],
        revision: o["revision"],
        hubUrl: o["hubUrl"],
        token,
        maxSamples: o["maxSamples"],
        maxRowsPerFile: o["maxRowsPerFile"],
        seed: o["seed"],
        shuffle: Boolean(o["shuffle"]),
        shuffleBuffer: o["shuffleBuffer"],
        minCaptionLen: o["minCaptionLen"],
        maxCaptionLen: o["maxCaptionLen"],
        minWidth: o["minWidth"],
        minHeight: o["minHeight"],
        maxAspectRatio: o["maxAspectRatio"],
        maxPunsafe: o["maxPunsafe"],
        maxPwatermark: o["maxPwatermark"],
        minSimilarity: o["minSimilarity"],
        lang: o["lang"],
        dedupeUrls: Boolean(o["dedupeUrls"]),
        dedupeExpectedRows: o["dedupeExpectedRows"],
        dedupeFpr: o["dedupeFpr"],
        urlCol: o["urlCol"],
        captionCol: o["captionCol"],
        resume: Boolean(o["resume"]),
        overwrite: Boolean(o["overwrite"]),
        rowGroupSize: o["rowGroupSize"],
        timeoutMs: o["timeout"] * 1000,
        retries: o["retries"],
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
      stdout.write(`${outPath}\n`);
    },
    {
      secrets: () => [token, env["HF_TOKEN"]],
      stderr,
      ...(io.setExitCode ? { setExitCode: io.setExitCode } : {}),
    },
  );
}

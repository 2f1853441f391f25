#!/usr/bin/env node
// train-tokenizer: byte-level BPE on corpus files + captions, written as JSON.
import { checkFlagPath, intOption, runCli } from "@laion/cli-kit";
import { Command } from "commander";
import { trainTokenizer } from "./train-tokenizer.js";

const program = new Command("train-tokenizer")
  .description("Train the byte-level BPE tokenizer (Sinhala + English) on a text corpus and image captions")
  .option("--corpus <paths...>", "corpus .txt/.jsonl files or folders", [])
  .option("--captions <files...>", "captions.json files whose captions are added", [])
  .option(
    "--vocab-size <n>",
    "text vocabulary incl. the 256 byte tokens",
    intOption("--vocab-size", { min: 256, max: 1_000_000 }),
    8192,
  )
  .option(
    "--min-frequency <n>",
    "a merge needs a pair seen this often",
    intOption("--min-frequency", { min: 1 }),
    2,
  )
  .requiredOption("--out <file>", "tokenizer JSON to write");

runCli(async () => {
  program.parse();
  const o = program.opts();
  checkFlagPath(o.out, { flag: "--out", kind: "file" });
  const tok = await trainTokenizer({
    corpus: o.corpus,
    captions: o.captions,
    vocabSize: o.vocabSize,
    minFrequency: o.minFrequency,
    out: o.out,
  });
  process.stdout.write(`${o.out}: ${tok.size} text tokens (256 bytes + ${tok.merges.length} merges)\n`);
});

import {
  type CliCommand,
  CliError,
  type CliIo,
  checkFlagPath,
  intOption,
  packageVersion,
  runCommand,
} from "@laion/cli-kit";
import { type TrainTokenizerParams, trainTokenizer } from "./train-tokenizer.js";

/** The flags of `train-tokenizer`: trainTokenizer's params, as given. */
export type TrainTokenizerCliOptions = Required<
  Pick<TrainTokenizerParams, "corpus" | "captions" | "vocabSize" | "minFrequency" | "out">
>;

/** `train-tokenizer`: byte-level BPE on corpus files + captions, written as JSON. */
export const trainTokenizerCommand: CliCommand<TrainTokenizerCliOptions> = {
  name: "train-tokenizer",
  version: () => packageVersion(import.meta.url),
  description: "Train the byte-level BPE tokenizer (Sinhala + English) on a text corpus and image captions",
  define(program) {
    program
      .optionsGroup("Text:")
      .option("--corpus <paths...>", "corpus .txt/.jsonl files or folders", [])
      .option("--captions <files...>", "captions.json files whose captions are added", [])
      .optionsGroup("Vocabulary:")
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
      .optionsGroup("Output:")
      .requiredOption("--out <file>", "tokenizer JSON to write");
  },
  async run(o, ctx) {
    if (o.corpus.length === 0 && o.captions.length === 0)
      throw new CliError("no text to train on: give --corpus and/or --captions");
    checkFlagPath(o.out, { flag: "--out", kind: "file" });
    const tok = await trainTokenizer(o);
    ctx.stdout.write(`${o.out}: ${tok.size} text tokens (256 bytes + ${tok.merges.length} merges)\n`);
  },
};

/** Run `train-tokenizer` with these arguments (tests pass their own streams and env). */
export function trainTokenizerCli(argv: readonly string[], io: CliIo = {}): Promise<void> {
  return runCommand(trainTokenizerCommand, argv, io);
}

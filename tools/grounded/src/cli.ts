#!/usr/bin/env node
// make-grounded-shards: write seeded synthetic captioned images as webdataset shards (see README.md).
import { CliError, intOption, runCli } from "@laion/cli-kit";
import { Command, Option } from "commander";
import { parseCombos } from "./attributes.js";
import { LANGS, type Lang } from "./captions.js";
import { SPLITS, type Split } from "./samples.js";
import { writeGroundedShards } from "./write-shards.js";

interface Flags {
  out: string;
  split: Split;
  count: number;
  seed: number;
  shardSize: number;
  imageSize: number;
  heldOut: string;
  langs: string;
}

function createGroundedCli(): Command {
  return new Command("make-grounded-shards")
    .description(
      "Seeded synthetic captioned images (shapes × colours × positions, English + Sinhala captions) as webdataset shards, usable as --laion-path / --laion-tars. Held-out colour-shape pairs never appear in the train split.",
    )
    .requiredOption("--out <dir>", "output folder (created; a finished shard is skipped on a rerun)")
    .addOption(new Option("--split <split>", "which split to write").choices([...SPLITS]).default("train"))
    .option("--count <n>", "number of images", intOption("--count", { min: 1 }), 10000)
    .option("--seed <n>", "seed (same seed, same images)", intOption("--seed", { min: 0 }), 0)
    .option("--shard-size <n>", "images per shard", intOption("--shard-size", { min: 1 }), 1000)
    .option(
      "--image-size <px>",
      "image side in pixels",
      intOption("--image-size", { min: 16, max: 1024 }),
      64,
    )
    .option(
      "--held-out <pairs>",
      'colour-shape pairs held out of training, comma-separated ("" for none)',
      "red-circle,green-square,blue-triangle,yellow-star",
    )
    .option("--langs <list>", `caption languages, comma-separated (${LANGS.join(", ")})`, LANGS.join(","))
    .showHelpAfterError()
    .action(async (flags: Flags) => {
      let heldOut: ReturnType<typeof parseCombos>;
      try {
        heldOut = parseCombos(flags.heldOut);
      } catch (err) {
        throw new CliError(`--held-out: ${(err as Error).message}`);
      }
      const langs = flags.langs.split(",").map((l) => l.trim()) as Lang[];
      for (const l of langs)
        if (!LANGS.includes(l))
          throw new CliError(`--langs: unknown language "${l}"; use ${LANGS.join(", ")}`);
      const r = await writeGroundedShards({
        outDir: flags.out,
        split: flags.split,
        count: flags.count,
        seed: flags.seed,
        shardSize: flags.shardSize,
        imageSize: flags.imageSize,
        heldOut,
        langs,
        onShard: (s) =>
          process.stderr.write(`${s.shard}: ${s.samples} images${s.skipped ? " (already complete)" : ""}\n`),
      });
      process.stdout.write(
        `${JSON.stringify({ out: r.outDir, shards: r.shards.length, count: r.count, skipped: r.skipped })}\n`,
      );
    });
}

await runCli(async () => {
  await createGroundedCli().parseAsync(process.argv);
});

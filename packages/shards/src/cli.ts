#!/usr/bin/env node
// laion-shards ls|stats: look inside webdataset shards. The commands live in read/cli-program.ts.
import { runCli } from "@laion/cli-kit";
import { createShardsCli } from "./read/cli-program.js";

await runCli(async () => {
  await createShardsCli().parseAsync(process.argv);
});

#!/usr/bin/env node
// laion-shards ls|stats: look inside webdataset shards. The commands live in read/cli-program.ts.
import { runCli } from "@laion/cli-kit";
import { createShardsCli } from "./read/cli-program.js";

// `laion-shards ls … | head`: the reader went away, which is not an error.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(0);
  throw error;
});

await runCli(async () => {
  await createShardsCli().parseAsync(process.argv);
});

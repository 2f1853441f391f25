#!/usr/bin/env node
// laion-shards ls|stats: look inside webdataset shards. The commands live in read/command.ts.
import { runCommand } from "@laion/cli-kit";
import { shardsCommand } from "./read/command.js";

// `laion-shards ls … | head`: the reader went away, which is not an error.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(0);
  throw error;
});

await runCommand(shardsCommand);

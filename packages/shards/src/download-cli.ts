#!/usr/bin/env node
// download-laion-images: URLs → resized images → webdataset shards. The command lives in download/cli-program.ts.
import { runCli } from "@laion/cli-kit";
import { createDownloadCli } from "./download/cli-program.js";

await runCli(async () => {
  await createDownloadCli().parseAsync(process.argv);
});

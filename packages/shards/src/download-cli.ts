#!/usr/bin/env node
// download-laion-images: URLs → resized images → webdataset shards. The command lives in download/command.ts.
import { runCommand } from "@laion/cli-kit";
import { downloadCommand } from "./download/command.js";

await runCommand(downloadCommand);

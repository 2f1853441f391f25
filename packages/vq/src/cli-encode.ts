#!/usr/bin/env node
import { runCli } from "@laion/cli-kit";
import { encodeVqCodesCli } from "./encode-cli.js";

await runCli(() => encodeVqCodesCli(process.argv));

#!/usr/bin/env node
import { runCli } from "@laion/cli-kit";
import { trainVisualVq } from "./train-cli.js";

await runCli(() => trainVisualVq(process.argv));

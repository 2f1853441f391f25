#!/usr/bin/env node
// train-multimodal: the command lives in train-command.ts.
import { runCommand } from "@laion/cli-kit";
import { trainMultimodalCommand } from "./train-command.js";

await runCommand(trainMultimodalCommand);

#!/usr/bin/env node
// train-tokenizer: the command lives in tokenizer-command.ts.
import { runCommand } from "@laion/cli-kit";
import { trainTokenizerCommand } from "./tokenizer-command.js";

await runCommand(trainTokenizerCommand);

#!/usr/bin/env node
// train-visual-vq: the command lives in train-command.ts.
import { runCommand } from "@laion/cli-kit";
import { trainVqCommand } from "./train-command.js";

await runCommand(trainVqCommand);

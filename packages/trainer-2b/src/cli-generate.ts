#!/usr/bin/env node
// generate-multimodal: the command lives in generate-command.ts.
import { runCommand } from "@laion/cli-kit";
import { generateCommand } from "./generate-command.js";

await runCommand(generateCommand);

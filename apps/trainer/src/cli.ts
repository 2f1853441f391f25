#!/usr/bin/env node
// laion-trainer: the commands live in command.ts.
import { runCommand } from "@laion/cli-kit";
import { trainerCommand } from "./command.js";

await runCommand(trainerCommand);

#!/usr/bin/env node
// encode-vq-codes: the command lives in encode-command.ts.
import { runCommand } from "@laion/cli-kit";
import { encodeVqCommand } from "./encode-command.js";

await runCommand(encodeVqCommand);

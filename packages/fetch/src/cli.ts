#!/usr/bin/env node
import { runCommand, setV8Flags } from "@laion/cli-kit";
import { fetchCommand } from "./command.js";
import { FETCH_RUNTIME } from "./node-runtime.js";

// --heap-growing-percent=10 (why: node-runtime.ts). Set here, in the CLI, not in the library: it is
// process-wide. An explicit --heap-growing-percent (node flag or NODE_OPTIONS) wins.
setV8Flags(FETCH_RUNTIME.v8Flags);

await runCommand(fetchCommand);

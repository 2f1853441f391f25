#!/usr/bin/env node
// laion-trainer: the commands live in command.ts. The process first gets the start-up settings of the
// stages it runs in itself (process-settings.ts): a process started without them starts again, once,
// with them; the commands are loaded only in the process that runs them.
import { missingStartupSettings, relaunch } from "./process-settings.js";

const missing = missingStartupSettings(process.execArgv, process.env);
if (missing) await relaunch(missing);
const { runCommand } = await import("@laion/cli-kit");
const { trainerCommand } = await import("./command.js");
await runCommand(trainerCommand);

#!/usr/bin/env node
// laion-trainer: the commands live in command.ts. A command that runs the fetch or download stage in
// this process first gets those packages' start-up settings (process-settings.ts): started without them,
// it starts again, once, with them. The commands are loaded only in the process that runs them.
import {
  inProcessRuntimes,
  missingStartupSettings,
  RELAUNCHED_ENV,
  relaunch,
  runsInProcessStages,
} from "./process-settings.js";

if (!process.env[RELAUNCHED_ENV] && runsInProcessStages(process.argv.slice(2))) {
  const missing = missingStartupSettings(process.execArgv, process.env, await inProcessRuntimes());
  if (missing) await relaunch(missing);
}
const { runCommand } = await import("@laion/cli-kit");
const { trainerCommand } = await import("./command.js");
await runCommand(trainerCommand);

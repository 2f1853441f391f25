export type { RunCliOptions } from "./cli-error.js";
export { CliError, redact, runCli } from "./cli-error.js";
export type { RangeParams } from "./options.js";
export { boolOption, floatOption, intOption } from "./options.js";
export type { Progress, ProgressFields, ProgressParams } from "./progress.js";
export { createProgress } from "./progress.js";

// Public API of @laion/cli-kit: the one CLI pattern (typed options → the library call), option
// parsers, progress, run manifests and output locks, atomic writes — what every package's CLI and
// run bookkeeping share. Named one by one; the rest stays internal (tests import it from src/).
export type { RunCliOptions } from "./cli-error.js";
export { CliError, redact, runCli } from "./cli-error.js";
export type { CliCommand, CliContext, CliIo, CliSubcommand, Verbosity } from "./command.js";
export { packageVersion, runCommand } from "./command.js";
export type { ConfigIssue } from "./config-issues.js";
export { describeConfigIssue } from "./config-issues.js";
export type { FsErrorContext } from "./fs-errors.js";
export { describeFsError } from "./fs-errors.js";
export type { NodeRuntimeSettings, RuntimeV8Flag } from "./node-runtime.js";
export { nodeFlagGiven, setV8Flags, withV8Flags } from "./node-runtime.js";
export type { RangeParams } from "./options.js";
export { boolOption, floatOption, intOption } from "./options.js";
export type { AcquireLockParams, LockHolder, OutputLock } from "./output-lock.js";
export { acquireOutputLock, OutputBusyError } from "./output-lock.js";
export { checkFlagPath } from "./path-checks.js";
export type { Progress, ProgressFields, ProgressParams } from "./progress.js";
export { createProgress } from "./progress.js";
export type { Difference, InputIdentity, JsonValue, RunManifest, RunStatus } from "./run-manifest.js";
export {
  formatDifferences,
  inputIdentity,
  manifestDifferences,
  manifestStatus,
  moveAside,
  moveAsideAll,
  newManifest,
  OutputChangedError,
  readManifest,
  writeManifest,
} from "./run-manifest.js";
export type { ArgSpec } from "./to-args.js";
export { toArgs } from "./to-args.js";
export { syncFolder, writeFileAtomic, writeFileAtomicSync } from "./write-atomic.js";

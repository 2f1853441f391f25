// The app runs its stages' library functions in its own process, so that process needs the settings the
// stages' bins run with. Run-time V8 flags are set per stage (run-pipeline.ts, `Stage.runtime`); the rest
// (node flags, glibc's environment) is read only when a process starts: a command that runs such a stage,
// started without them, starts the app again, once, with them. Light on purpose: the packages that own
// the settings are loaded only when a command needs them (loading @laion/shards alone takes ~1.3 s).
import { spawn } from "node:child_process";
import { type NodeRuntimeSettings, nodeFlagGiven } from "@laion/cli-kit";

/** Set in the started-again process: it never starts another (and a user can set it to skip the relaunch). */
export const RELAUNCHED_ENV = "LAION_TRAINER_RELAUNCHED";

/** The commands that may run the fetch or download stage in this process. */
const IN_PROCESS_COMMANDS = new Set(["kaggle", "demo", "fetch", "download"]);
/** Flags with which a command runs no stage. */
const NOTHING_RUNS = new Set(["--help", "-h", "--version", "-V", "--dry-run"]);

/** Whether `argv` (after node and the script) names a command that may run the fetch or download stage. */
export function runsInProcessStages(argv: readonly string[]): boolean {
  const command = argv.find((a) => !a.startsWith("-"));
  return command !== undefined && IN_PROCESS_COMMANDS.has(command) && !argv.some((a) => NOTHING_RUNS.has(a));
}

/** The settings of the packages whose work runs in the app's process (fetch, download). */
export async function inProcessRuntimes(): Promise<NodeRuntimeSettings[]> {
  const [{ FETCH_RUNTIME }, { DOWNLOAD_RUNTIME }] = await Promise.all([
    import("@laion/fetch"),
    import("@laion/shards"),
  ]);
  return [FETCH_RUNTIME, DOWNLOAD_RUNTIME];
}

/** Start-up settings a process lacks: node flags to start it with, environment to add. */
export interface StartupSettings {
  nodeFlags: string[];
  env: Record<string, string>;
}

/**
 * What a process started with `execArgv` and `env` lacks of `runtimes`' start-up settings; null when it
 * has them all or was started again already. Settings the user gave (a node flag of the same name, on
 * the command line or in NODE_OPTIONS; an environment variable already set) are theirs to keep.
 */
export function missingStartupSettings(
  execArgv: readonly string[],
  env: NodeJS.ProcessEnv,
  runtimes: readonly NodeRuntimeSettings[],
): StartupSettings | null {
  if (env[RELAUNCHED_ENV]) return null;
  const wanted: Record<string, string> = {};
  for (const r of runtimes)
    for (const [name, value] of Object.entries(r.env)) {
      if (wanted[name] !== undefined && wanted[name] !== value)
        throw new Error(`two stages want ${name} set differently: ${wanted[name]} and ${value}`);
      wanted[name] = value;
    }
  const nodeFlags = [...new Set(runtimes.flatMap((r) => r.nodeFlags))].filter(
    (f) => !nodeFlagGiven(f, execArgv, env["NODE_OPTIONS"] ?? ""),
  );
  const missingEnv = Object.fromEntries(Object.entries(wanted).filter(([name]) => env[name] === undefined));
  if (nodeFlags.length === 0 && Object.keys(missingEnv).length === 0) return null;
  return { nodeFlags, env: missingEnv };
}

const FORWARDED = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/**
 * Starts this script again with `settings` (same node, flags, arguments, stdio) and ends this process as
 * the new one ends: the same exit code, or the same signal. Signals sent to this process are passed on.
 */
export function relaunch(settings: StartupSettings): Promise<never> {
  const child = spawn(
    process.execPath,
    [...settings.nodeFlags, ...process.execArgv, ...process.argv.slice(1)],
    { stdio: "inherit", env: { ...process.env, ...settings.env, [RELAUNCHED_ENV]: "1" } },
  );
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  for (const s of FORWARDED) process.on(s, forward);
  return new Promise<never>(() => {
    child.once("error", (error) => {
      process.stderr.write(`error: cannot start the app again with its settings: ${error.message}\n`);
      process.exit(1);
    });
    child.once("exit", (code, signal) => {
      for (const s of FORWARDED) process.off(s, forward);
      if (signal) process.kill(process.pid, signal);
      else process.exit(code ?? 1);
    });
  });
}

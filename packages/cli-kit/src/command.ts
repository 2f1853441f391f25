// The one CLI pattern of every @laion bin: a CliCommand declares its flags (grouped) and turns the
// parsed, typed options into one library call (or holds CliSubcommands that each do); runCommand adds
// what every bin shares (--version, --quiet/--verbose and DEBUG=laion:*, --help that groups the flags
// and marks the required ones, error printing with secrets scrubbed). The bin file only calls runCommand.
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Command, Help, type Option } from "commander";
import { debugEnabled, runCli } from "./cli-error.js";

export interface CliIo {
  env?: NodeJS.ProcessEnv;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Set instead of process.exitCode (tests). */
  setExitCode?: (code: number) => void;
}

/** quiet: errors and the result only; verbose (--verbose, or DEBUG naming the bin): also detail lines. */
export type Verbosity = "quiet" | "normal" | "verbose";

export interface CliContext {
  env: NodeJS.ProcessEnv;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  verbosity: Verbosity;
  /** A status line on stderr; silent with --quiet. */
  log(message: string): void;
  /** A detail line on stderr; only with --verbose (or DEBUG=laion:*). */
  debug(message: string): void;
  /** The stream progress reporters write to: stderr, or nowhere with --quiet. */
  progressStream: NodeJS.WritableStream & { isTTY?: boolean };
  setExitCode(code: number): void;
  /** The arguments the bin was given (after the node and script paths), e.g. for a "rerun with" line. */
  argv: readonly string[];
}

/**
 * One subcommand of a CliCommand (`laion-shards ls`): its own flags and library call. Its positional
 * arguments, declared in `define` with `.argument("<urls...>")`, reach `run` as options named after them.
 */
export interface CliSubcommand<O> {
  name: string;
  description: string;
  /** Flags that --help marks "(required)" although the library checks them. */
  required?: readonly string[];
  define(command: Command): void;
  run(options: O, ctx: CliContext): Promise<void>;
}

export interface CliCommand<O> {
  /** The bin's name, e.g. "fetch-laion-subset". */
  name: string;
  /**
   * The shipping package's version, printed by --version: `() => packageVersion(import.meta.url)`
   * (a function, so that a CommonJS build, where import.meta is empty, only reads it when asked).
   */
  version: string | (() => string);
  description: string;
  /** Flags that --help marks "(required)" although the library checks them (so its message names them). */
  required?: readonly string[];
  /** Declares the options, grouped with `program.optionsGroup("Heading:")`. */
  define?(program: Command): void;
  /** The typed options → the library call. A CLI of subcommands leaves this out. */
  run?(options: O, ctx: CliContext): Promise<void>;
  /** `laion-shards ls|stats`: each runs its own library call; the shared flags work before or after its name. */
  subcommands?: readonly CliSubcommand<object>[];
  /** Values to scrub from any error message (tokens, keys). */
  secrets?(options: Partial<O>, env: NodeJS.ProcessEnv): readonly (string | undefined | null)[];
}

/** The `version` of the package.json above a module (src/ or dist/ alike). */
export function packageVersion(moduleUrl: string): string {
  let dir = path.dirname(fileURLToPath(moduleUrl));
  for (;;) {
    try {
      return (JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")) as { version: string })
        .version;
    } catch (err) {
      const parent = path.dirname(dir);
      if ((err as NodeJS.ErrnoException).code !== "ENOENT" || parent === dir) throw err;
      dir = parent;
    }
  }
}

/** Commander's help, with "(required)" after each required flag's description. */
class MarkedHelp extends Help {
  constructor(private readonly required: ReadonlySet<string>) {
    super();
  }
  override optionDescription(option: Option): string {
    const text = super.optionDescription(option);
    const required = option.mandatory || (option.long !== undefined && this.required.has(option.long));
    return required ? `${text} (required)` : text;
  }
}

function versionOf(command: CliCommand<unknown>): string {
  return typeof command.version === "function" ? command.version() : command.version;
}

/** Output to `io`, errors thrown (not process.exit), help marking `required` and showing the shared flags. */
function configure(cmd: Command, io: Required<CliIo>, required: ReadonlySet<string>): Command {
  cmd
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });
  cmd.createHelp = () => Object.assign(new MarkedHelp(required), cmd.configureHelp());
  return cmd;
}

/** The flags every command has, last in its help: on a subcommand too, so they work after its name. */
function addSharedOptions(cmd: Command): Command {
  return cmd
    .optionsGroup("General:")
    .option("-q, --quiet", "print only errors and the result (no progress, no status lines)")
    .option("--verbose", "print detail lines too (as does DEBUG=laion:*, which also prints error stacks)")
    .helpOption("-h, --help", "print this help and exit");
}

/** A command's typed options: its flags (less the shared ones) and its positional arguments by name. */
function optionsOf(cmd: Command): Record<string, unknown> {
  const { quiet: _q, verbose: _v, ...own } = cmd.opts<Record<string, unknown>>();
  cmd.registeredArguments.forEach((arg, i) => {
    own[arg.name()] = cmd.processedArgs[i];
  });
  return own;
}

/** Called with the options of whichever command ran, so that secrets in them can be scrubbed. */
type Runner = (options: Record<string, unknown>, cmd: Command) => Promise<void>;

/** Builds the commander program of a CliCommand: its options plus the shared ones, output to `io`. */
export function buildProgram<O>(command: CliCommand<O>, io: Required<CliIo>, runner?: Runner): Command {
  const required = new Set([
    ...(command.required ?? []),
    ...(command.subcommands ?? []).flatMap((s) => s.required ?? []),
  ]);
  const program = configure(new Command(command.name).description(command.description), io, required);
  command.define?.(program);
  for (const sub of command.subcommands ?? []) {
    const cmd = configure(program.command(sub.name).description(sub.description), io, required);
    sub.define(cmd);
    addSharedOptions(cmd);
    if (runner) cmd.action(async (..._args: unknown[]) => runner(optionsOf(cmd), cmd));
  }
  return addSharedOptions(program).version(versionOf(command), "-V, --version", "print the version and exit");
}

/** Parse argv, then run the command's library call; expected errors print one `error:` line. */
export async function runCommand<O>(
  command: CliCommand<O>,
  argv: readonly string[] = process.argv.slice(2),
  io: CliIo = {},
): Promise<void> {
  const full: Required<CliIo> = {
    env: io.env ?? process.env,
    stdout: io.stdout ?? process.stdout,
    stderr: io.stderr ?? process.stderr,
    setExitCode:
      io.setExitCode ??
      ((code: number) => {
        process.exitCode = code;
      }),
  };
  let options: Record<string, unknown> = {};
  const contextOf = (cmd: Command) =>
    context(cmd.optsWithGlobals<{ quiet?: boolean; verbose?: boolean }>(), full, command.name, argv);
  const runSub: Runner = async (own, cmd) => {
    options = own;
    const sub = command.subcommands?.find((s) => s.name === cmd.name());
    await sub?.run(own, contextOf(cmd));
  };
  const program = buildProgram(command, full, runSub);
  await runCli(
    async () => {
      await program.parseAsync([...argv], { from: "user" });
      if (!command.run) return;
      options = optionsOf(program);
      await command.run(options as O, contextOf(program));
    },
    {
      secrets: () => command.secrets?.(options as Partial<O>, full.env) ?? [],
      stderr: full.stderr,
      setExitCode: full.setExitCode,
      env: full.env,
      name: command.name,
    },
  );
}

/** The CliContext for parsed `--quiet` / `--verbose` (and DEBUG naming the bin). */
export function context(
  flags: { quiet?: boolean; verbose?: boolean },
  io: Required<CliIo>,
  name = "",
  argv: readonly string[] = [],
): CliContext {
  const verbosity: Verbosity = flags.quiet
    ? "quiet"
    : flags.verbose || debugEnabled(io.env, name)
      ? "verbose"
      : "normal";
  const nowhere = { write: () => true } as unknown as NodeJS.WritableStream;
  return {
    env: io.env,
    stdout: io.stdout,
    stderr: io.stderr,
    verbosity,
    log: (m) => {
      if (verbosity !== "quiet") io.stderr.write(`${m}\n`);
    },
    debug: (m) => {
      if (verbosity === "verbose") io.stderr.write(`${m}\n`);
    },
    progressStream: verbosity === "quiet" ? nowhere : io.stderr,
    setExitCode: io.setExitCode,
    argv,
  };
}

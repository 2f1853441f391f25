// The one CLI pattern of every @laion bin: a CliCommand declares its flags (grouped) and turns the
// parsed, typed options into one library call; runCommand adds what every bin shares (--version,
// --quiet/--verbose and DEBUG, --help that marks required flags, error printing with secrets
// scrubbed). The bin file itself only calls runCommand.
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Command, Help, type Option } from "commander";
import { runCli } from "./cli-error.js";

export interface CliIo {
  env?: NodeJS.ProcessEnv;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Set instead of process.exitCode (tests). */
  setExitCode?: (code: number) => void;
}

/** quiet: errors and the result only; verbose (--verbose or DEBUG set): also detail lines. */
export type Verbosity = "quiet" | "normal" | "verbose";

export interface CliContext {
  env: NodeJS.ProcessEnv;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  verbosity: Verbosity;
  /** A status line on stderr; silent with --quiet. */
  log(message: string): void;
  /** A detail line on stderr; only with --verbose (or DEBUG). */
  debug(message: string): void;
  /** The stream progress reporters write to: stderr, or nowhere with --quiet. */
  progressStream: NodeJS.WritableStream & { isTTY?: boolean };
  setExitCode(code: number): void;
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
  /** Declares the options (grouped with `program.optionsGroup("Heading:")`) or subcommands. */
  define(program: Command): void;
  /** The typed options → the library call. Subcommand CLIs run from their own actions and leave this out. */
  run?(options: O, ctx: CliContext): Promise<void>;
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

/** Builds the commander program of a CliCommand: its options plus the shared ones, output to `io`. */
export function buildProgram<O>(command: CliCommand<O>, io: Required<Omit<CliIo, "setExitCode">>): Command {
  const program = new Command(command.name)
    .description(command.description)
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });
  const required = new Set(command.required ?? []);
  program.createHelp = () => Object.assign(new MarkedHelp(required), program.configureHelp());
  command.define(program);
  program
    .optionsGroup("General:")
    .option("-q, --quiet", "print only errors and the result (no progress, no status lines)")
    .option("--verbose", "print detail lines too (as does DEBUG=1, which also prints error stacks)")
    .version(versionOf(command), "-V, --version", "print the version and exit")
    .helpOption("-h, --help", "print this help and exit");
  for (const sub of program.commands) {
    sub.exitOverride().configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    });
    sub.createHelp = () => Object.assign(new MarkedHelp(required), sub.configureHelp());
  }
  return program;
}

/** Parse argv, then run the command's library call; expected errors print one `error:` line. */
export async function runCommand<O>(
  command: CliCommand<O>,
  argv: readonly string[] = process.argv.slice(2),
  io: CliIo = {},
): Promise<void> {
  const env = io.env ?? process.env;
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  const setExitCode =
    io.setExitCode ??
    ((code: number) => {
      process.exitCode = code;
    });
  const program = buildProgram(command, { env, stdout, stderr });
  let options: Partial<O> = {};
  await runCli(
    async () => {
      await program.parseAsync([...argv], { from: "user" });
      if (!command.run) return;
      // --quiet/--verbose belong to the shell, not to the library call's options
      const { quiet, verbose, ...own } = program.opts<{ quiet?: boolean; verbose?: boolean }>();
      options = own as Partial<O>;
      await command.run(own as O, context({ quiet, verbose }, { env, stdout, stderr, setExitCode }));
    },
    { secrets: () => command.secrets?.(options, env) ?? [], stderr, setExitCode, env },
  );
}

/** The CliContext for parsed `--quiet` / `--verbose` (and DEBUG). */
export function context(flags: { quiet?: boolean; verbose?: boolean }, io: Required<CliIo>): CliContext {
  const verbosity: Verbosity = flags.quiet
    ? "quiet"
    : flags.verbose || io.env["DEBUG"]
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
  };
}

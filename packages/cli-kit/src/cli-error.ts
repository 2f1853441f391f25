/** An error meant for the person at the terminal: printed as `error: <message>` without a stack. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = "CliError";
  }
}

/** Replace every occurrence of each secret (tokens, keys) with `***`, so no message can leak one. */
export function redact(text: string, secrets: readonly (string | undefined | null)[]): string {
  let out = text;
  for (const secret of secrets) if (secret && secret.length >= 4) out = out.split(secret).join("***");
  return out;
}

/**
 * Whether DEBUG asks for this bin's detail lines and error stacks. As in the `debug` package, DEBUG
 * lists namespaces (comma or space separated, `*` a wildcard, `-` excluding): ours are `laion:<bin>`,
 * so `DEBUG=laion:*` turns on every @laion bin and `DEBUG=express:*` none. `DEBUG=1` (or `true`) is
 * accepted too, for everything.
 */
export function debugEnabled(env: NodeJS.ProcessEnv, name = ""): boolean {
  const patterns = (env["DEBUG"] ?? "").split(/[\s,]+/).filter(Boolean);
  const namespace = `laion:${name}`;
  const matches = (pattern: string) =>
    new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`).test(namespace);
  if (patterns.some((p) => p.startsWith("-") && matches(p.slice(1)))) return false;
  return patterns.some((p) => p === "1" || p === "true" || (!p.startsWith("-") && matches(p)));
}

export interface RunCliOptions {
  /** Secrets to scrub from any error message printed. */
  secrets?: () => readonly (string | undefined | null)[];
  stderr?: NodeJS.WritableStream;
  /** Where DEBUG is read (stacks are printed when it names this bin, see debugEnabled). Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** The bin's name, for DEBUG=laion:<name>. */
  name?: string;
  /** Set instead of calling process.exit, so pending writes flush. */
  setExitCode?: (code: number) => void;
}

/**
 * Run a CLI's main function: expected errors (CliError, and commander's usage errors) print one
 * `error:` line; anything else prints its message too, with the stack only when DEBUG names the bin (`DEBUG=laion:*`).
 */
export async function runCli(main: () => Promise<void> | void, options: RunCliOptions = {}): Promise<void> {
  const stderr = options.stderr ?? process.stderr;
  const setExitCode =
    options.setExitCode ??
    ((code: number) => {
      process.exitCode = code;
    });
  try {
    await main();
  } catch (error) {
    const err = error instanceof Error ? error : new Error(String(error));
    const code = (err as { exitCode?: number }).exitCode;
    const secrets = options.secrets?.() ?? [];
    const debug = debugEnabled(options.env ?? process.env, options.name);
    const message = redact(debug && err.stack ? err.stack : err.message, secrets);
    // commander has already printed its own usage error; don't print it twice.
    if ((err as { code?: string }).code?.startsWith("commander.")) {
      setExitCode(typeof code === "number" && code !== 0 ? code : 0);
      return;
    }
    stderr.write(`error: ${message}\n`);
    setExitCode(typeof code === "number" && code > 0 ? code : 1);
  }
}

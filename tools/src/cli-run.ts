// Runs a bin's entry in-process with captured output, for the CLI convention tests of every package
// (--version, --help, a missing required flag): fast, and no build needed. Structural types, so the
// test servers need not depend on @laion/cli-kit.
import { Writable } from "node:stream";

/** What a runCommand-style entry receives: its streams, env and exit-code setter. */
export interface CapturedIo {
  env: NodeJS.ProcessEnv;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  setExitCode: (code: number) => void;
}

export interface CapturedRun {
  out: string;
  err: string;
  code: number;
}

function sink(): { stream: Writable; text: () => string } {
  let text = "";
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      text += String(chunk);
      callback();
    },
  });
  return { stream, text: () => text };
}

/** `main(argv, io)` with stdout/stderr captured; `code` is the exit code it set (0 when none). */
export async function runCaptured(
  main: (argv: readonly string[], io: CapturedIo) => Promise<void>,
  argv: readonly string[],
  env: NodeJS.ProcessEnv = {},
): Promise<CapturedRun> {
  const out = sink();
  const err = sink();
  let code = 0;
  await main(argv, {
    env,
    stdout: out.stream,
    stderr: err.stream,
    setExitCode: (c) => {
      code = c;
    },
  });
  return { out: out.text(), err: err.text(), code };
}

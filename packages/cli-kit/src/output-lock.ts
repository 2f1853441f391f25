import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { CliError } from "./cli-error.js";

/** Who holds an output: written into the lock file so a refusal can name them. */
export interface LockHolder {
  pid: number;
  host: string;
  /** ISO time the holder started. */
  started_at: string;
  /** What the holder is doing ("download-laion-images worker 0"). */
  purpose?: string;
}

export interface OutputLock {
  readonly file: string;
  /** Removes the lock file (only if it is still ours). Also runs on process exit. */
  release(): void;
}

export interface AcquireLockParams {
  /** Says what the lock is for, in the holder record and in refusals. */
  purpose?: string;
  /** Where the "took over a stale lock" message goes. Default stderr. */
  onLog?: (message: string) => void;
}

/** Another live process holds the output. */
export class OutputBusyError extends CliError {
  constructor(
    readonly lockFile: string,
    readonly holder: LockHolder | null,
  ) {
    const who = holder
      ? `pid ${holder.pid} on ${holder.host}, started ${holder.started_at}${holder.purpose ? ` (${holder.purpose})` : ""}`
      : "another process (the lock file is being written)";
    super(
      `${path.dirname(lockFile)} is in use by ${who}: one run per output. Wait for it to finish, or ` +
        `choose another output. If that process is gone (another machine, a reused pid), remove ${lockFile}.`,
    );
    this.name = "OutputBusyError";
  }
}

function readHolder(file: string): LockHolder | null {
  try {
    const h = JSON.parse(fs.readFileSync(file, "utf8")) as LockHolder;
    return typeof h.pid === "number" && typeof h.host === "string" ? h : null;
  } catch {
    return null;
  }
}

/** True when a process with this pid runs on this machine (EPERM: it exists but is not ours). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** A lock file left by a process of this host that is no longer running. */
function isStale(holder: LockHolder | null, file: string): boolean {
  if (holder) return holder.host === os.hostname() && !alive(holder.pid);
  // unreadable: a writer died between create and write, or is writing right now; give it a moment
  try {
    return Date.now() - fs.statSync(file).mtimeMs > 5_000;
  } catch {
    return false;
  }
}

const held = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // synchronous: runs on normal exit and process.exit(); a kill -9 leaves a stale lock the next run takes over
  process.on("exit", () => {
    for (const file of held) removeIfOurs(file);
  });
}

function removeIfOurs(file: string): void {
  const h = readHolder(file);
  if (h && h.pid === process.pid && h.host === os.hostname()) fs.rmSync(file, { force: true });
  held.delete(file);
}

/**
 * Takes the lock file for an output: one writer per output. The file is created exclusively (`wx`), so
 * of two processes starting together exactly one wins; the other gets an OutputBusyError naming the
 * holder. A lock left by a dead process of this host is taken over, with a message.
 */
export function acquireOutputLock(file: string, params: AcquireLockParams = {}): OutputLock {
  const log = params.onLog ?? ((m: string) => process.stderr.write(`${m}\n`));
  const me: LockHolder = {
    pid: process.pid,
    host: os.hostname(),
    started_at: new Date().toISOString(),
    ...(params.purpose ? { purpose: params.purpose } : {}),
  };
  fs.mkdirSync(path.dirname(file), { recursive: true });
  for (let attempt = 0; attempt < 3; attempt++) {
    // the record goes to a private temp file first and is linked into place, so the lock file never
    // exists half-written: link() fails with EEXIST when someone holds it
    const tmp = `${file}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, `${JSON.stringify(me)}\n`);
    try {
      fs.linkSync(tmp, file);
      fs.rmSync(tmp, { force: true });
      held.add(file);
      installExitHook();
      return { file, release: () => removeIfOurs(file) };
    } catch (err) {
      fs.rmSync(tmp, { force: true });
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const holder = readHolder(file);
    if (!isStale(holder, file)) throw new OutputBusyError(file, holder);
    // rename is atomic: of two processes taking over the same stale lock, one moves it, the other
    // gets ENOENT and retries (and then finds the winner's live lock)
    const aside = `${file}.stale-${process.pid}`;
    try {
      fs.renameSync(file, aside);
    } catch {
      continue;
    }
    const moved = readHolder(aside);
    if (moved && holder && (moved.pid !== holder.pid || moved.started_at !== holder.started_at)) {
      // we moved a fresh lock someone took in between: put it back and report them as the holder
      try {
        fs.linkSync(aside, file);
      } catch {}
      fs.rmSync(aside, { force: true });
      throw new OutputBusyError(file, moved);
    }
    fs.rmSync(aside, { force: true });
    log(
      holder
        ? `taking over the stale lock ${file} of pid ${holder.pid} (started ${holder.started_at}), which is no longer running`
        : `taking over the unreadable lock ${file}`,
    );
  }
  throw new OutputBusyError(file, readHolder(file));
}

import path from "node:path";
import { CliError } from "./cli-error.js";

export interface FsErrorContext {
  /** What was being done: "writing", "reading", "creating". */
  action: string;
  /** The file or folder involved. */
  file: string;
  /** The flag that named it (`--out`), when there is one: the user knows flags, not call sites. */
  flag?: string;
}

/**
 * A filesystem error in words that name the path, the flag and the cause, e.g.
 * "disk full writing 00003.tar in data/laion/webdataset (ENOSPC)". Errors from streams and file
 * descriptors carry no path, so the caller says which file it was.
 */
export function describeFsError(error: unknown, context: FsErrorContext): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const { action, file } = context;
  const named = context.flag ? `${context.flag} ${file}` : file;
  const where = `${path.basename(file)} in ${path.dirname(file)}`;
  switch (code) {
    case "ENOSPC":
      return `disk full ${action} ${where} (ENOSPC)`;
    case "EDQUOT":
      return `disk quota exceeded ${action} ${where} (EDQUOT)`;
    case "EISDIR":
      return `${named} is a folder; give a file path (EISDIR)`;
    case "EEXIST":
      return `${named} exists and is in the way (EEXIST): it is a file where a folder is needed, or the reverse`;
    case "ENOTDIR":
      return `${named}: a parent of it is a file, not a folder (ENOTDIR)`;
    case "ENOENT":
      return `${named}: no such file or folder (ENOENT)`;
    case "EACCES":
    case "EPERM":
      return `permission denied ${action} ${named} (${code})`;
    case "EROFS":
      return `read-only file system: cannot ${action.replace(/ing$/, "e")} ${named} (EROFS)`;
    case "EMFILE":
    case "ENFILE":
      return `too many open files ${action} ${named} (${code})`;
    case "EIO":
      return `input/output error ${action} ${named} (EIO): the disk or network filesystem failed`;
    default: {
      const message = error instanceof Error ? error.message : String(error);
      return `${action} ${named} failed: ${message}`;
    }
  }
}

/** True for the errors of a full disk or quota, after which writing anything else is pointless. */
export function isDiskFull(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === "ENOSPC" || code === "EDQUOT";
}

/** A CliError carrying `describeFsError`'s message, the original error as its cause. */
export function fsError(error: unknown, context: FsErrorContext): CliError {
  const e = new CliError(describeFsError(error, context));
  (e as { cause?: unknown }).cause = error;
  return e;
}

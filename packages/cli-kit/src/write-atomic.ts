// One writer for "a file appears whole or not at all", used by every package (checkpoints, sidecars,
// reports, progress files, parquet outputs). cli-kit owns it because it is the one package every
// CLI-carrying package already depends on, and the mixer (the other shared leaf) must stay free of IO.
import fs from "node:fs";
import path from "node:path";

let counter = 0;
/** A temp name beside the target (same folder, so the rename is atomic), unique per process and call. */
export function tempPathFor(file: string): string {
  return `${file}.tmp-${process.pid}-${counter++}`;
}

// A folder that cannot be opened for syncing (Windows: EISDIR/EPERM), or whose file system cannot sync
// it (EINVAL and kin): its renames are as durable as that file system makes them.
const NO_FOLDER_OPEN = new Set(["EISDIR", "EPERM", "EACCES"]);
const NO_FOLDER_SYNC = new Set(["EINVAL", "EBADF", "EPERM", "ENOTSUP"]);
const code = (err: unknown) => (err as NodeJS.ErrnoException).code ?? "";

/**
 * Makes a folder's entries durable — the renames just done in it: after a power cut a renamed file is
 * found under its new name. A rename is atomic without this, but may be lost or undone by a crash.
 */
export async function syncFolder(dir: string): Promise<void> {
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(dir, "r");
  } catch (err) {
    if (NO_FOLDER_OPEN.has(code(err))) return;
    throw err;
  }
  try {
    await handle.sync();
  } catch (err) {
    if (!NO_FOLDER_SYNC.has(code(err))) throw err;
  } finally {
    await handle.close();
  }
}

/** The synchronous syncFolder. */
export function syncFolderSync(dir: string): void {
  let fd: number;
  try {
    fd = fs.openSync(dir, "r");
  } catch (err) {
    if (NO_FOLDER_OPEN.has(code(err))) return;
    throw err;
  }
  try {
    fs.fsyncSync(fd);
  } catch (err) {
    if (!NO_FOLDER_SYNC.has(code(err))) throw err;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Write `data` to `file` atomically and durably: a temp file beside it, fsync, rename over the target,
 * fsync the folder. A kill at any moment leaves the old file or the new one, never half of one; once it
 * resolves, a power cut leaves the new one. On an error the temp file is removed and the old file is
 * untouched. Creates the parent folder. Cost: two fsyncs (file and folder) per call.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const dir = path.dirname(file);
  await fs.promises.mkdir(dir, { recursive: true });
  const tmp = tempPathFor(file);
  try {
    const fh = await fs.promises.open(tmp, "w");
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.promises.rename(tmp, file);
  } catch (err) {
    await fs.promises.rm(tmp, { force: true });
    throw err;
  }
  await syncFolder(dir);
}

/** The synchronous writeFileAtomic, for code paths that are synchronous already. */
export function writeFileAtomicSync(file: string, data: string | Uint8Array): void {
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true });
  const tmp = tempPathFor(file);
  try {
    const fd = fs.openSync(tmp, "w");
    try {
      fs.writeFileSync(fd, data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  syncFolderSync(dir);
}

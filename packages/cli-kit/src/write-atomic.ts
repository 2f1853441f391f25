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

/**
 * Write `data` to `file` atomically: a temp file beside it, fsync, then rename over the target. A kill at
 * any moment leaves the old file or the new one, never half of one; on an error the temp file is removed
 * and the old file is untouched. Creates the parent folder.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  await fs.promises.mkdir(path.dirname(file), { recursive: true });
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
}

/** The synchronous writeFileAtomic, for code paths that are synchronous already. */
export function writeFileAtomicSync(file: string, data: string | Uint8Array): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
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
}

import fs from "node:fs";
import path from "node:path";

/** Writes a file under a temporary name and renames it, so a kill never leaves a half file that looks finished. */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
}

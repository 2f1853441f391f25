import fs from "node:fs";
import path from "node:path";
import { CliError } from "./cli-error.js";

/**
 * Checks a path a flag names before any work starts, so the user reads "--out model.pt is a folder"
 * instead of a bare EISDIR after an hour of training. `kind`: what the path must be; `mustExist`:
 * for inputs (an output may not exist yet, but nothing in the way may be of the wrong kind).
 */
export function checkFlagPath(
  file: string,
  params: { flag: string; kind: "file" | "folder"; mustExist?: boolean },
): void {
  const { flag, kind } = params;
  let stat: fs.Stats | undefined;
  try {
    stat = fs.statSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOTDIR")
      throw new CliError(`${flag} ${file}: a parent of it is a file, not a folder (ENOTDIR)`);
    if (code !== "ENOENT") throw new CliError(`${flag} ${file}: ${(error as Error).message}`);
  }
  if (stat === undefined) {
    if (params.mustExist) throw new CliError(`${flag} ${file}: no such ${kind} (ENOENT)`);
    // an output to be created: its nearest existing ancestor must be a folder
    let parent = path.dirname(path.resolve(file));
    while (!fs.existsSync(parent)) parent = path.dirname(parent);
    if (!fs.statSync(parent).isDirectory())
      throw new CliError(`${flag} ${file}: ${parent} is a file, not a folder (ENOTDIR)`);
    return;
  }
  if (kind === "file" && stat.isDirectory())
    throw new CliError(`${flag} ${file} is a folder; give a file path (EISDIR)`);
  if (kind === "folder" && !stat.isDirectory())
    throw new CliError(`${flag} ${file} exists and is a file; give a folder (EEXIST)`);
}

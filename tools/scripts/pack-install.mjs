// What a user gets from npm, made once for the scripts that need it (consumer-test.mjs, installed-size.mjs):
// `npm pack` workspace packages and install the tarballs — and nothing from the workspace — into a fresh
// project, offline when the npm cache has everything, install scripts off (as in the workspace).
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** `cmd args` in `cwd`, its stdout; a failure carries the command, the folder and everything it printed. */
export function run(cmd, args, cwd, env = {}) {
  try {
    return execFileSync(cmd, args, { cwd, env: { ...process.env, ...env }, encoding: "utf8", stdio: "pipe" });
  } catch (err) {
    throw new Error(`${cmd} ${args.join(" ")} (in ${cwd}) failed:\n${err.stdout ?? ""}${err.stderr ?? ""}`);
  }
}

/**
 * Packs the packages in `dirs` into `<work>/tarballs` and installs the tarballs into `<work>/app` (a
 * private project named `name`). Returns npm pack's report of each tarball (`name`, `version`,
 * `filename`, `files`) and the project's folder.
 */
export function packAndInstall(dirs, work, { name = "consumer" } = {}) {
  const tarballs = path.join(work, "tarballs");
  fs.mkdirSync(tarballs, { recursive: true });
  const packed = JSON.parse(
    run("npm", ["pack", "--json", "--pack-destination", tarballs, ...dirs.flatMap((d) => ["-w", d])], ROOT),
  );
  const app = path.join(work, "app");
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, "package.json"), JSON.stringify({ name, private: true }, null, 2));
  run(
    "npm",
    [
      "install",
      "--prefer-offline",
      "--no-audit",
      "--no-fund",
      "--ignore-scripts",
      "--package-lock=false",
      ...packed.map((p) => path.join(tarballs, p.filename)),
    ],
    app,
  );
  return { packed, app };
}

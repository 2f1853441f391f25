// The bin launchers' one helper, plain JavaScript so it works before any build: npm links a workspace
// bin only if its file exists at `npm ci` time, so each package commits bin/<name>.js, which imports
// its built dist entry through this.

/**
 * Runs a package's built CLI. When it is not built yet, says so (instead of a module-not-found trace).
 * @param {URL} entry the dist file, e.g. new URL("../dist/cli.js", import.meta.url)
 * @param {string} name the bin's name, for the message
 */
export async function launch(entry, name) {
  try {
    await import(entry.href);
  } catch (err) {
    const missing = err?.code === "ERR_MODULE_NOT_FOUND" && String(err.message).includes(entry.pathname);
    if (!missing) throw err;
    process.stderr.write(`error: ${name} is not built yet: run \`npm run build\` in the repository first\n`);
    process.exitCode = 1;
  }
}

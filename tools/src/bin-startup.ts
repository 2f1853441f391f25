import { execFileSync } from "node:child_process";

/**
 * What node a bin starts when run through its shebang (`env -S … node <flags>`): its environment and
 * `process.execArgv`, read by a module imported before the bin's own code (NODE_OPTIONS `--import`),
 * which prints them and stops the process. For tests that a bin starts with its package's settings.
 */
export function binStartup(bin: string): { env: NodeJS.ProcessEnv; execArgv: string[] } {
  const code = "console.log(JSON.stringify([process.env, process.execArgv])); process.exit(0)";
  const probe = `data:text/javascript,${encodeURIComponent(code)}`; // NODE_OPTIONS splits on spaces
  const out = execFileSync(bin, ["--version"], {
    encoding: "utf8",
    env: { ...process.env, NODE_OPTIONS: `--import=${probe}` },
  });
  const [env, execArgv] = JSON.parse(out.trim().split("\n")[0] as string) as [NodeJS.ProcessEnv, string[]];
  return { env, execArgv };
}

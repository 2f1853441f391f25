import v8 from "node:v8";

// The process settings a package's bin runs with (memory tuning measured in its benchmark), declared once
// by that package so its bin and a host that runs its library function as its own work (the trainer
// app's stages) use the same values.

/** A V8 flag that takes effect when set while the process runs (`v8.setFlagsFromString`). */
export interface RuntimeV8Flag {
  /** Without dashes, e.g. "heap-growing-percent". */
  name: string;
  value: number;
  /** V8's own default, set back when the work that wanted `value` is done. */
  v8Default: number;
}

/** How a package's work wants node to run it. Each setting acts on the whole process. */
export interface NodeRuntimeSettings {
  /** V8 flags that act when set at run time: set for the work, restored after it. */
  v8Flags: readonly RuntimeV8Flag[];
  /** node flags read only at start-up (the bin's shebang carries them), e.g. "--max-semi-space-size=8". */
  nodeFlags: readonly string[];
  /** Environment read only at start-up (glibc's malloc tunables; the bin's shebang sets them). */
  env: Readonly<Record<string, string>>;
}

/** `--name` (of `--name` or `--name=value`). */
const flagName = (arg: string) => arg.split("=")[0] as string;

/** Whether the user gave `flag` (`--name`) to node: on its command line or in NODE_OPTIONS. Theirs wins. */
export function nodeFlagGiven(
  flag: string,
  execArgv: readonly string[] = process.execArgv,
  nodeOptions: string = process.env["NODE_OPTIONS"] ?? "",
): boolean {
  const name = flagName(flag);
  const spellings = [name, name.replaceAll("-", "_").replace(/^__/, "--")];
  return [...execArgv, ...nodeOptions.split(/\s+/)].some((a) => spellings.includes(flagName(a)));
}

/**
 * Sets `flags` (except those the user gave node) and returns what sets them back to V8's defaults.
 * A bin, whose process is its own, need not call the result.
 */
export function setV8Flags(flags: readonly RuntimeV8Flag[]): () => void {
  const set = flags.filter((f) => !nodeFlagGiven(`--${f.name}`));
  for (const f of set) v8.setFlagsFromString(`--${f.name}=${f.value}`);
  return () => {
    for (const f of set) v8.setFlagsFromString(`--${f.name}=${f.v8Default}`);
  };
}

/** `work()` with `flags` set (except those the user gave node), V8's defaults restored after it. */
export async function withV8Flags<T>(flags: readonly RuntimeV8Flag[], work: () => Promise<T>): Promise<T> {
  const restore = setV8Flags(flags);
  try {
    return await work();
  } finally {
    restore();
  }
}

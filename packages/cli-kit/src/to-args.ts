/** How one parameter becomes flags: another flag name, `null` to leave it out, or a function giving the argv. */
export type ArgSpec = string | null | ((value: unknown) => string[]);

/**
 * A library params object → the argv of its CLI, so an app can print "run this stage alone" without
 * copying flag names. Each key becomes `--kebab-case` unless `spec` says otherwise; `true` is a bare
 * flag, `false`/`undefined`/`null` are left out, arrays follow their flag, functions (callbacks) are
 * never printed. Each package exports its own wrapper (`fetchArgs`, `downloadArgs` …) with its spec.
 */
export function toArgs(params: object, spec: Record<string, ArgSpec> = {}): string[] {
  const args: string[] = [];
  for (const [key, value] of Object.entries(params)) {
    const rule = spec[key];
    if (rule === null || value === undefined || value === null || value === false) continue;
    if (
      typeof value === "function" ||
      (typeof value === "object" && !Array.isArray(value) && rule === undefined)
    )
      continue;
    if (typeof rule === "function") {
      args.push(...rule(value));
      continue;
    }
    const flag = rule ?? `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    if (value === true) args.push(flag);
    else if (Array.isArray(value)) args.push(flag, ...value.map(String));
    else args.push(flag, String(value));
  }
  return args;
}

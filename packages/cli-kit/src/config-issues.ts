/** The fields of a zod issue this formatter reads (structural, so cli-kit needs no zod). */
export interface ConfigIssue {
  code: string;
  path: readonly PropertyKey[];
  message: string;
  keys?: readonly string[];
  values?: readonly unknown[];
}

/**
 * One line per config problem, naming the key as written in the file: "unknown key model.foo (allowed in
 * model: a, b)", "training.max_steps: must be one of …", "max_steps: Invalid input: expected number,
 * received string". `allowed` lists the keys of each section ("" for the top level).
 */
export function describeConfigIssue(issue: ConfigIssue, allowed: Record<string, readonly string[]>): string {
  const where = issue.path.map(String).join(".") || "(top level)";
  if (issue.code === "unrecognized_keys" && issue.keys) {
    const section = issue.path.map(String).join(".");
    const keys = issue.keys.map((k) => (section ? `${section}.${k}` : k)).join(", ");
    return `unknown key ${keys} (allowed in ${section || "the top level"}: ${(allowed[section] ?? []).join(", ")})`;
  }
  if (issue.code === "invalid_value" && issue.values)
    return `${where}: must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
  return `${where}: ${issue.message}`;
}

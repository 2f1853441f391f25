/** Quotes an argument for a POSIX shell when it needs it, so printed commands can be pasted. */
export function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** The "run this stage alone" command the app prints, ready to paste. */
export function commandLine(args: (string | number)[]): string {
  return args.map((a) => shellQuote(String(a))).join(" ");
}

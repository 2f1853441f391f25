/**
 * X-Robots-Tag handling as img2dataset's `is_disallowed`: a header value is `[token:] directive, directive…`;
 * it applies when it names no user agent or names ours, and disallows when one of its directives is in the
 * disallowed set.
 */
export const DEFAULT_DISALLOWED_DIRECTIVES = ["noai", "noimageai", "noindex", "noimageindex"] as const;

/** Our user-agent token, and img2dataset's: a site that opted out of img2dataset opted out of this tool too. */
export const USER_AGENT_TOKENS = ["laion-ts-downloader", "img2dataset"] as const;

export const ROBOTS_DISALLOWED_ERROR = "Use of image disallowed by X-Robots-Tag directive";

export function isDisallowedByRobots(
  headerValues: string | string[] | undefined,
  disallowed: readonly string[] = DEFAULT_DISALLOWED_DIRECTIVES,
): boolean {
  if (headerValues === undefined) return false;
  const values = Array.isArray(headerValues) ? headerValues : [headerValues];
  const set = new Set(disallowed.map((d) => d.trim().toLowerCase()));
  for (const value of values) {
    const colon = value.indexOf(":");
    const token = colon >= 0 ? value.slice(0, colon).trim().toLowerCase() : null;
    const directives = (colon >= 0 ? value.slice(colon + 1) : value)
      .split(",")
      .map((d) => d.trim().toLowerCase());
    const forUs = token === null || (USER_AGENT_TOKENS as readonly string[]).includes(token);
    if (forUs && directives.some((d) => set.has(d))) return true;
  }
  return false;
}

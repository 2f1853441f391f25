/**
 * An expected failure (bad input, unreachable source, gated dataset): its message names the file,
 * flag or row involved and says what to do. `exitCode` lets @laion/cli-kit's runCli print it
 * without a stack.
 */
export class FetchError extends Error {
  readonly exitCode = 1;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "FetchError";
  }
}

/** Replace each secret in `text` with `***` (tokens must never reach logs or error messages). */
export function scrub(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 4) out = out.split(s).join("***");
  return out;
}

export const GATED_HINT =
  "the dataset is gated: open its page on Hugging Face, accept the terms, then set HF_TOKEN (or --hf-token) to a token of that account";

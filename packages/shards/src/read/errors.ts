/** What to do when a shard cannot be opened, is truncated, has bad gzip data or a bad member. */
export type ErrorHandler = "raise" | "warnAndContinue" | "ignore";

export const ERROR_HANDLERS: readonly ErrorHandler[] = ["raise", "warnAndContinue", "ignore"];

/**
 * An error while reading one shard. `url` is the shard, `member` the tar member being read
 * when it happened (absent when the shard could not be opened at all).
 */
export class ShardError extends Error {
  readonly url: string;
  readonly member: string | undefined;

  constructor(params: { url: string; member?: string; message: string; cause?: unknown }) {
    const where = params.member === undefined ? params.url : `${params.url} (member ${params.member})`;
    super(`${where}: ${params.message}`, params.cause === undefined ? undefined : { cause: params.cause });
    this.name = "ShardError";
    this.url = params.url;
    this.member = params.member;
  }
}

/** Wraps any error into a ShardError naming the shard (and member), keeping a ShardError as is. */
export function toShardError(error: unknown, url: string, member?: string): ShardError {
  if (error instanceof ShardError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new ShardError({ url, member, message, cause: error });
}

/**
 * Applies the handler policy: rethrows under "raise"; otherwise reports the error
 * (to `onError` if given, else a console warning for "warnAndContinue") and lets the caller go on.
 */
export function handleError(
  error: ShardError,
  handler: ErrorHandler,
  onError: ((error: ShardError) => void) | undefined,
): void {
  if (handler === "raise") throw error;
  if (onError) onError(error);
  else if (handler === "warnAndContinue") console.warn(`warning: ${error.message}`);
}

// One GET of the image fetcher on node:http with keep-alive agents, redirects followed by hand so every
// hop is checked. got's stream API did the same for ~0.5 ms more CPU per image (tools/bench/download.bench.mjs,
// docs/benchmarks.md): at LAION scale that is a tenth of what the downloader adds to libvips' own work.
import http from "node:http";
import https from "node:https";
import type { LookupFunction } from "node:net";
import type { Readable } from "node:stream";
import zlib from "node:zlib";

/** A failure of one attempt: a message that aggregates well in stats, and whether trying again may help. */
export class AttemptError extends Error {
  constructor(
    message: string,
    readonly retriable: boolean,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

export interface GetOptions {
  agents: { http: http.Agent; https: https.Agent };
  headers: http.OutgoingHttpHeaders;
  /** Resolves host names (the private-address check); absent = the system's lookup. */
  lookup?: LookupFunction | undefined;
  /** For the whole attempt: every hop, headers and body. */
  timeoutMs: number;
  maxRedirects: number;
  maxBodyBytes: number;
  /** Refuses a redirect target (scheme, IP literal) by throwing an AttemptError. */
  checkRedirect(target: URL): void;
  /** Refuses a 2xx response from its headers (robots opt-out, declared size) by throwing an AttemptError. */
  checkResponse(res: http.IncomingMessage): void;
  /** Turns a request/socket error into an AttemptError. */
  classify(err: unknown): AttemptError;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

function retryAfterMs(value: string | undefined): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, date - Date.now()) : undefined;
}

/** The error of a non-2xx, non-redirect answer: 5xx, 429 and 408 are worth another try. */
function statusError(res: http.IncomingMessage): AttemptError {
  const status = res.statusCode ?? 0;
  const retriable = status >= 500 || status === 429 || status === 408;
  return new AttemptError(`HTTP ${status}`, retriable, retryAfterMs(res.headers["retry-after"]));
}

/** Where a redirect leads, or why it is not followed (limit reached, bad Location, refused target). */
function redirectTarget(
  location: string,
  from: URL,
  redirects: number,
  options: GetOptions,
): URL | AttemptError {
  if (redirects >= options.maxRedirects)
    return new AttemptError(`too many redirects (max ${options.maxRedirects})`, false);
  try {
    const next = new URL(location, from);
    options.checkRedirect(next);
    return next;
  } catch (err) {
    return err instanceof AttemptError ? err : new AttemptError("invalid redirect location", false);
  }
}

/** A decoder for the body's Content-Encoding (as got's decompress did), or null to take the bytes as they are. */
function decoderFor(encoding: string | undefined): zlib.Gunzip | zlib.BrotliDecompress | null {
  const name = encoding?.trim().toLowerCase();
  // Z_SYNC_FLUSH at the end: a body cut short gives what arrived, as browsers do
  const flush = { flush: zlib.constants.Z_SYNC_FLUSH, finishFlush: zlib.constants.Z_SYNC_FLUSH };
  if (name === "gzip" || name === "x-gzip" || name === "deflate") return zlib.createUnzip(flush);
  if (name === "br") return zlib.createBrotliDecompress();
  return null;
}

/**
 * GETs `url`, following up to `maxRedirects` redirects, and resolves with the (decompressed) body.
 * Rejects with an AttemptError; the body is counted as it arrives, so a lying Content-Length or a
 * compression bomb stops at `maxBodyBytes`.
 */
export function getBody(url: URL, options: GetOptions): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    let req: http.ClientRequest | undefined;
    let settled = false;
    const timer = setTimeout(
      () => finish(new AttemptError(`timeout after ${options.timeoutMs} ms`, true)),
      options.timeoutMs,
    );
    function finish(err: AttemptError | null, body?: Buffer): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        req?.destroy(); // a failed exchange never goes back to the keep-alive pool
        reject(err);
      } else resolve(body ?? Buffer.alloc(0));
    }
    function hop(target: URL, redirects: number): void {
      const client = target.protocol === "https:" ? https : http;
      const agent = target.protocol === "https:" ? options.agents.https : options.agents.http;
      const lookup = options.lookup ? { lookup: options.lookup } : {};
      req = client.get(target, { agent, headers: options.headers, ...lookup }, (res) =>
        onResponse(res, target, redirects),
      );
      req.on("error", (err) => finish(options.classify(err)));
    }
    function onResponse(res: http.IncomingMessage, target: URL, redirects: number): void {
      if (settled) {
        res.destroy();
        return;
      }
      const status = res.statusCode ?? 0;
      if (REDIRECT_STATUSES.has(status) && res.headers.location) {
        res.resume(); // drain, so the socket can serve the next hop
        const next = redirectTarget(res.headers.location, target, redirects, options);
        if (next instanceof AttemptError) finish(next);
        else hop(next, redirects + 1);
        return;
      }
      if (status < 200 || status > 299) {
        res.resume();
        finish(statusError(res));
        return;
      }
      try {
        options.checkResponse(res);
      } catch (err) {
        finish(err as AttemptError);
        return;
      }
      readBody(res, options, finish);
    }
    hop(url, 0);
  });
}

/** Largest declared body read into one buffer allocated up front (LAION's images are mostly < 1 MB). */
const PREALLOCATE_MAX = 4 * 1024 * 1024;

/**
 * Collects the body, decoding it when compressed, and stops past the cap (counted after decoding).
 * A plain body with a declared length is copied into one buffer of that length as it arrives: each
 * socket chunk dies at once instead of living until a final concat, so fewer Buffers survive a
 * scavenge into the old generation (where only a full GC frees them). The length is still not
 * trusted: a body shorter than declared comes back as what arrived, and one longer than declared
 * (node's parser refuses that, but a proxy might not) falls back to collecting chunks.
 */
function readBody(
  res: http.IncomingMessage,
  options: GetOptions,
  finish: (err: AttemptError | null, body?: Buffer) => void,
): void {
  const decoder = decoderFor(res.headers["content-encoding"]);
  const source: Readable = decoder ? res.pipe(decoder) : res;
  const declared = decoder ? Number.NaN : Number(res.headers["content-length"]);
  // Only up to PREALLOCATE_MAX: a server declaring 40 MB and sending 1 KB must not make every slot
  // reserve 40 MB; larger bodies are rare and collected chunk by chunk as before.
  const preallocate = Number.isInteger(declared) && declared > 0 && declared <= PREALLOCATE_MAX;
  let whole = preallocate ? Buffer.allocUnsafe(declared) : undefined;
  let chunks: Buffer[] = [];
  let total = 0;
  res.on("error", (err) => finish(options.classify(err))); // a connection cut mid-body: "aborted"
  decoder?.on("error", (err) => finish(options.classify(err)));
  source.on("data", (chunk: Buffer) => {
    if (whole && total + chunk.length > whole.length) {
      chunks = [whole.subarray(0, total)];
      whole = undefined;
    }
    total += chunk.length;
    if (total > options.maxBodyBytes) {
      decoder?.destroy();
      return finish(new AttemptError(`body larger than max-body-bytes (${options.maxBodyBytes})`, false));
    }
    if (whole) chunk.copy(whole, total - chunk.length);
    else chunks.push(chunk);
  });
  source.on("end", () => {
    if (whole) return finish(null, total === whole.length ? whole : whole.subarray(0, total));
    finish(null, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total));
  });
}

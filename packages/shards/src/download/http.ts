import http from "node:http";
import https from "node:https";
import { setTimeout as sleep } from "node:timers/promises";
import got, { HTTPError, MaxRedirectsError, type RequestError, TimeoutError } from "got";
import {
  AddressPolicy,
  type AddressPolicyParams,
  ipLiteralHost,
  PRIVATE_ADDRESS_ERROR,
  PrivateAddressError,
} from "./address-safety.js";
import { DEFAULT_DISALLOWED_DIRECTIVES, isDisallowedByRobots, ROBOTS_DISALLOWED_ERROR } from "./robots.js";

export const DEFAULT_MAX_BODY_BYTES = 50 * 1024 * 1024;
export const USER_AGENT = "laion-ts-downloader/0.1 (+https://github.com/laion-ts/laion-ts)";

export interface HttpParams extends AddressPolicyParams {
  /** Whole-request timeout (connect + headers + body), ms. Default 10000 (img2dataset's 10 s). */
  timeoutMs?: number;
  /** Extra attempts after a 5xx, 429 or network error (never after 404 and other 4xx). Default 2. */
  retries?: number;
  /** First backoff delay, doubled at each retry, with ±50% jitter. Default 500 ms. */
  retryBaseDelayMs?: number;
  /** Longest wait between two attempts, Retry-After included. Default 10000 ms. */
  retryMaxDelayMs?: number;
  /** Default 10. */
  maxRedirects?: number;
  /** Bodies are cut off past this many bytes, whatever Content-Length says. Default 50 MiB. */
  maxBodyBytes?: number;
  userAgent?: string;
  /** X-Robots-Tag directives that make us skip an image; `[]` disables the check. Default noai, noimageai, noindex, noimageindex. */
  disallowedDirectives?: readonly string[];
  /** Parallel connections per host. Default 64. */
  maxSocketsPerHost?: number;
}

export type FetchResult = { ok: true; bytes: Buffer } | { ok: false; error: string };

export interface ImageFetcher {
  fetch(url: string): Promise<FetchResult>;
  close(): void;
}

/** A failure of one attempt: a message that aggregates well in stats, and whether trying again may help. */
class AttemptError extends Error {
  constructor(
    message: string,
    readonly retriable: boolean,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

const RETRIABLE_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "EPIPE",
  "ETIMEDOUT",
  "EAI_AGAIN",
  "ENETUNREACH",
  "EHOSTUNREACH",
  "ERR_STREAM_PREMATURE_CLOSE",
]);

/** Every X-Robots-Tag header of a response (decompressed responses are copies without `headersDistinct`). */
function robotsTags(res: http.IncomingMessage): string[] | string | undefined {
  if (res.rawHeaders?.length) {
    const values: string[] = [];
    for (let i = 0; i + 1 < res.rawHeaders.length; i += 2)
      if (res.rawHeaders[i]!.toLowerCase() === "x-robots-tag") values.push(res.rawHeaders[i + 1]!);
    return values;
  }
  return res.headers["x-robots-tag"];
}

/** Validates a URL before any network use: only http and https, and no refused IP literal. */
export function checkUrl(raw: string, policy: AddressPolicy): URL {
  const text = raw.trim();
  if (text === "") throw new AttemptError("empty URL", false);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new AttemptError("invalid URL", false);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new AttemptError(
      `unsupported URL scheme "${url.protocol.replace(/:$/, "")}" (only http and https)`,
      false,
    );
  if (!policy.allowsHost(url.hostname)) {
    const ip = ipLiteralHost(url);
    if (ip && !policy.allows(ip)) throw new AttemptError(PRIVATE_ADDRESS_ERROR, false);
  }
  return url;
}

function retryAfterMs(value: string | undefined): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, date - Date.now()) : undefined;
}

function classify(err: unknown, timeoutMs: number, maxRedirects: number): AttemptError {
  if (err instanceof AttemptError) return err;
  if (err instanceof HTTPError) {
    const status = err.response.statusCode;
    const retriable = status >= 500 || status === 429 || status === 408;
    return new AttemptError(`HTTP ${status}`, retriable, retryAfterMs(err.response.headers["retry-after"]));
  }
  if (err instanceof MaxRedirectsError)
    return new AttemptError(`too many redirects (max ${maxRedirects})`, false);
  if (err instanceof TimeoutError) return new AttemptError(`timeout after ${timeoutMs} ms`, true);
  const e = err as Partial<RequestError> & { cause?: unknown };
  if (e.code === "ERR_PRIVATE_ADDRESS" || e.message === PRIVATE_ADDRESS_ERROR)
    return new AttemptError(PRIVATE_ADDRESS_ERROR, false);
  if (e.code === "ERR_UNSUPPORTED_PROTOCOL")
    return new AttemptError("unsupported URL scheme in redirect", false);
  if (e.code === "ENOTFOUND") return new AttemptError("DNS name not found (ENOTFOUND)", false);
  const code = e.code ?? "unknown";
  // llhttp's codes: the server broke HTTP itself (e.g. more body than its Content-Length)
  if (code.startsWith("HPE_")) return new AttemptError(`invalid HTTP response (${code})`, false);
  return new AttemptError(`network error (${code})`, RETRIABLE_CODES.has(code) || code === "unknown");
}

/**
 * Whether a recorded failure (a sample's error_message, a status_dict key) came from the network or
 * the server rather than the image: connection refused/reset, DNS, timeouts, 5xx, 429 and 408. A rerun
 * tries these samples again; 404/410, robots opt-outs, refused addresses and undecodable or oversized
 * images stay failed. It reads the messages `classify` writes, so old shards are judged the same way.
 */
export function isTransientError(message: string): boolean {
  const http = /^HTTP (\d{3})$/.exec(message);
  if (http) {
    const status = Number(http[1]);
    return status >= 500 || status === 429 || status === 408;
  }
  if (message.startsWith("timeout after ")) return true;
  if (message === "DNS name not found (ENOTFOUND)") return true;
  const network = /^network error \((.+)\)$/.exec(message);
  return network !== null && (RETRIABLE_CODES.has(network[1]!) || network[1] === "unknown");
}

/**
 * Fetches image bytes over http(s) with got: per-request timeout, redirect limit, a body cap enforced while
 * streaming, X-Robots-Tag opt-outs, private-destination refusal on every hop, and retries with exponential
 * backoff and jitter for transient failures. Never throws: failures come back as `{ ok: false, error }`.
 */
export function createImageFetcher(params: HttpParams = {}): ImageFetcher {
  const timeoutMs = params.timeoutMs ?? 10_000;
  const retries = params.retries ?? 2;
  const baseDelay = params.retryBaseDelayMs ?? 500;
  const maxDelay = params.retryMaxDelayMs ?? 10_000;
  const maxRedirects = params.maxRedirects ?? 10;
  const maxBodyBytes = params.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const directives = params.disallowedDirectives ?? DEFAULT_DISALLOWED_DIRECTIVES;
  const policy = new AddressPolicy(params);
  const maxSockets = params.maxSocketsPerHost ?? 64;
  // keep-alive agents: LAION URLs cluster on a few CDNs, and reusing connections saves a handshake per image
  const agent = {
    http: new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets }),
    https: new https.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets }),
  };
  const client = got.extend({
    agent,
    timeout: { request: timeoutMs },
    retry: { limit: 0 }, // retries are ours: got's do not apply to streams the way we need
    maxRedirects,
    followRedirect: true,
    throwHttpErrors: true,
    decompress: true,
    headers: { "user-agent": params.userAgent ?? USER_AGENT, accept: "image/*,*/*;q=0.8" },
    ...(policy.allowAll ? {} : { dnsLookup: policy.lookup as never }),
    hooks: {
      beforeRedirect: [
        (options) => {
          // IP literals connect without a lookup, so the redirect target is checked here
          const target = options.url instanceof URL ? options.url : new URL(String(options.url));
          if (target.protocol !== "http:" && target.protocol !== "https:")
            throw new AttemptError("unsupported URL scheme in redirect", false);
          const ip = ipLiteralHost(target);
          if (ip && !policy.allowsHost(target.hostname) && !policy.allows(ip))
            throw new PrivateAddressError();
        },
      ],
    },
  });

  async function attempt(url: URL): Promise<Buffer> {
    const stream = client.stream(url);
    let failure: AttemptError | undefined;
    const fail = (e: AttemptError) => {
      failure = e;
      stream.destroy();
    };
    stream.on("response", (res: http.IncomingMessage) => {
      if (directives.length > 0 && isDisallowedByRobots(robotsTags(res), directives))
        return fail(new AttemptError(ROBOTS_DISALLOWED_ERROR, false));
      const declared = Number(res.headers["content-length"]);
      if (Number.isFinite(declared) && declared > maxBodyBytes)
        fail(new AttemptError(`body larger than max-body-bytes (${maxBodyBytes})`, false));
    });
    const chunks: Buffer[] = [];
    let total = 0;
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        total += chunk.length;
        // counted on the bytes actually received (after decompression): Content-Length may lie
        if (total > maxBodyBytes) {
          fail(new AttemptError(`body larger than max-body-bytes (${maxBodyBytes})`, false));
          break;
        }
        chunks.push(chunk);
      }
    } catch (err) {
      throw failure ?? classify(err, timeoutMs, maxRedirects);
    }
    if (failure) throw failure;
    return Buffer.concat(chunks, total);
  }

  return {
    async fetch(raw) {
      let url: URL;
      try {
        url = checkUrl(raw, policy);
      } catch (err) {
        return { ok: false, error: (err as Error).message };
      }
      for (let i = 0; ; i++) {
        try {
          return { ok: true, bytes: await attempt(url) };
        } catch (err) {
          const e = err instanceof AttemptError ? err : classify(err, timeoutMs, maxRedirects);
          if (!e.retriable || i >= retries) return { ok: false, error: e.message };
          // jitter only spreads retries in time; no output depends on it, so Math.random is fine here
          const backoff = baseDelay * 2 ** i * (0.5 + Math.random());
          await sleep(Math.min(maxDelay, e.retryAfterMs ?? backoff));
        }
      }
    },
    close() {
      agent.http.destroy();
      agent.https.destroy();
    },
  };
}

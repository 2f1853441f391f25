import http from "node:http";
import https from "node:https";
import { setTimeout as sleep } from "node:timers/promises";
import {
  AddressPolicy,
  type AddressPolicyParams,
  ipLiteralHost,
  PRIVATE_ADDRESS_ERROR,
} from "./address-safety.js";
import { AttemptError, type GetOptions, getBody } from "./http-get.js";
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
  /**
   * Certificate authorities trusted for https instead of Node's bundled roots (PEM): a mirror behind a
   * private CA, or a test server's own certificate. Default: Node's roots.
   */
  ca?: string | Buffer | readonly (string | Buffer)[];
}

export type FetchResult = { ok: true; bytes: Buffer } | { ok: false; error: string };

export interface ImageFetcher {
  fetch(url: string): Promise<FetchResult>;
  close(): void;
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

/** A request or socket error in the words of the stats: codes kept, so reruns can tell what is transient. */
function classify(err: unknown): AttemptError {
  if (err instanceof AttemptError) return err;
  const e = err as NodeJS.ErrnoException;
  if (e.code === "ERR_PRIVATE_ADDRESS" || e.message === PRIVATE_ADDRESS_ERROR)
    return new AttemptError(PRIVATE_ADDRESS_ERROR, false);
  if (e.code === "ENOTFOUND") return new AttemptError("DNS name not found (ENOTFOUND)", false);
  const code = e.code ?? "unknown";
  // OpenSSL's verdicts on the server's certificate (self-signed, expired, wrong host …): trying again won't help
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY/.test(code))
    return new AttemptError(`TLS certificate refused (${code})`, false);
  if (code.startsWith("ERR_SSL_")) return new AttemptError(`TLS handshake failed (${code})`, false);
  // llhttp's codes: the server broke HTTP itself (e.g. more body than its Content-Length)
  if (code.startsWith("HPE_")) return new AttemptError(`invalid HTTP response (${code})`, false);
  return new AttemptError(`network error (${code})`, RETRIABLE_CODES.has(code) || code === "unknown");
}

/** Refuses a redirect to another scheme or to a refused IP literal (those connect without a lookup). */
function redirectCheck(policy: AddressPolicy): (target: URL) => void {
  return (target) => {
    if (target.protocol !== "http:" && target.protocol !== "https:")
      throw new AttemptError("unsupported URL scheme in redirect", false);
    const ip = ipLiteralHost(target);
    if (ip && !policy.allowsHost(target.hostname) && !policy.allows(ip))
      throw new AttemptError(PRIVATE_ADDRESS_ERROR, false);
  };
}

/** Refuses a response by its headers: an X-Robots-Tag opt-out, or a declared size over the cap. */
function responseCheck(directives: readonly string[], maxBodyBytes: number) {
  return (res: http.IncomingMessage) => {
    // headersDistinct builds an array per header on every response: only asked for when the tag is there
    if (
      directives.length > 0 &&
      res.headers["x-robots-tag"] !== undefined &&
      isDisallowedByRobots(res.headersDistinct["x-robots-tag"], directives)
    )
      throw new AttemptError(ROBOTS_DISALLOWED_ERROR, false);
    const declared = Number(res.headers["content-length"]);
    if (Number.isFinite(declared) && declared > maxBodyBytes)
      throw new AttemptError(`body larger than max-body-bytes (${maxBodyBytes})`, false);
  };
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
 * Fetches image bytes over http(s) with node:http: per-request timeout, redirect limit, a body cap enforced
 * while streaming, X-Robots-Tag opt-outs, private-destination refusal on every hop, and retries with
 * exponential backoff and jitter for transient failures. Never throws: failures come back as `{ ok: false, error }`.
 */
export function createImageFetcher(params: HttpParams = {}): ImageFetcher {
  const retries = params.retries ?? 2;
  const baseDelay = params.retryBaseDelayMs ?? 500;
  const maxDelay = params.retryMaxDelayMs ?? 10_000;
  const policy = new AddressPolicy(params);
  const options = getOptions(params, policy);

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
          return { ok: true, bytes: await getBody(url, options) };
        } catch (err) {
          const e = classify(err);
          if (!e.retriable || i >= retries) return { ok: false, error: e.message };
          // jitter only spreads retries in time; no output depends on it, so Math.random is fine here
          const backoff = baseDelay * 2 ** i * (0.5 + Math.random());
          await sleep(Math.min(maxDelay, e.retryAfterMs ?? backoff));
        }
      }
    },
    close() {
      options.agents.http.destroy();
      options.agents.https.destroy();
    },
  };
}

/** What every GET of one fetcher shares: keep-alive agents, headers, limits and the checks of each hop. */
function getOptions(params: HttpParams, policy: AddressPolicy): GetOptions {
  const maxBodyBytes = params.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const maxSockets = params.maxSocketsPerHost ?? 64;
  // keep-alive agents: LAION URLs cluster on a few CDNs, and reusing connections saves a handshake per image
  const agents = {
    http: new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets }),
    https: new https.Agent({
      keepAlive: true,
      maxSockets,
      maxFreeSockets: maxSockets,
      ...(params.ca ? { ca: params.ca as string | Buffer | (string | Buffer)[] } : {}),
    }),
  };
  return {
    agents,
    headers: {
      "user-agent": params.userAgent ?? USER_AGENT,
      accept: "image/*,*/*;q=0.8",
      "accept-encoding": "gzip, deflate, br",
    },
    // host names are checked where they resolve, on every connection of every hop
    lookup: policy.allowAll ? undefined : (policy.lookup as GetOptions["lookup"]),
    timeoutMs: params.timeoutMs ?? 10_000,
    maxRedirects: params.maxRedirects ?? 10,
    maxBodyBytes,
    checkRedirect: redirectCheck(policy),
    checkResponse: responseCheck(params.disallowedDirectives ?? DEFAULT_DISALLOWED_DIRECTIVES, maxBodyBytes),
    classify,
  };
}

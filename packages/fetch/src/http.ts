import { FetchError, GATED_HINT, scrub } from "./errors.js";

export const DEFAULT_HUB_URL = "https://huggingface.co";

/**
 * The hub to use when no --hub-url / `hubUrl` is given: `HF_ENDPOINT` when set (the variable the
 * Hugging Face clients read for mirrors, e.g. `HF_ENDPOINT=https://hf-mirror.com`), else huggingface.co.
 */
export function defaultHubUrl(env: NodeJS.ProcessEnv = process.env): string {
  const endpoint = env["HF_ENDPOINT"]?.trim();
  if (!endpoint) return DEFAULT_HUB_URL;
  if (!/^https?:\/\/[^/]/i.test(endpoint))
    throw new FetchError(
      `HF_ENDPOINT must be an http(s):// URL such as https://hf-mirror.com, got "${endpoint}"`,
    );
  return endpoint.replace(/\/+$/, "");
}

export interface HttpParams {
  /** Sent as `Authorization: Bearer …`; never put in a message. */
  token?: string;
  /** The token goes only to this origin (the hub), never to other hosts (default https://huggingface.co). */
  hubUrl?: string;
  /** Per request, headers and body together (--timeout). */
  timeoutMs?: number;
  /** Extra attempts for 429/5xx and network errors (not for timeouts or 4xx). */
  retries?: number;
  /** Injectable fetch (tests, proxies). Defaults to globalThis.fetch. */
  fetch?: typeof globalThis.fetch;
  /** Incremented with every body byte received. */
  counter?: { bytes: number };
  /** Wait before retry n (ms); injectable so tests do not sleep. */
  backoffMs?: (attempt: number) => number;
  /**
   * Most bytes kept of a body that is not a range (listings). Range answers are capped by the range
   * they asked for, whatever the server sends. Default 256 MiB.
   */
  maxBodyBytes?: number;
}

export const DEFAULT_MAX_BODY_BYTES = 256 << 20;

const RETRYABLE = new Set([429, 500, 502, 503, 504]);

function describeStatus(url: string, status: number, statusText: string): string {
  const base = `${url}: HTTP ${status}${statusText ? ` ${statusText}` : ""}`;
  if (status === 401 || status === 403) return `${base}: ${GATED_HINT}`;
  if (status === 404)
    return `${base}: no such file (check the path, --hf-dataset, --subset/--num-parts or --parts-url)`;
  return base;
}

/**
 * A fetch for hyparquet's asyncBufferFromUrl that adds the Bearer token, applies a timeout to the
 * whole response (headers and body), caps the body, retries transient failures, turns HTTP errors into
 * FetchErrors that name the URL (never the token), and counts the bytes received.
 */
export function createHttpFetch(params: HttpParams): typeof globalThis.fetch {
  const retries = params.retries ?? 2;
  const backoff = params.backoffMs ?? ((n: number) => 500 * 2 ** n);
  const secrets = [params.token];
  const tokenOrigin = new URL(params.hubUrl ?? defaultHubUrl()).origin;
  const limited = createLimitedFetch(params);

  return (async (input: string | URL | Request, init: RequestInit = {}) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    const headers = new Headers(init.headers);
    // A Hugging Face token is for the hub: an --input URL on another host never sees it.
    if (params.token && new URL(url).origin === tokenOrigin)
      headers.set("Authorization", `Bearer ${params.token}`);
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await limited(url, { ...init, headers });
      } catch (err) {
        if (err instanceof FetchError) throw new FetchError(scrub(err.message, secrets));
        if (attempt < retries) {
          await sleep(backoff(attempt));
          continue;
        }
        throw new FetchError(scrub(`${url}: request failed (${networkCode(err)})`, secrets));
      }
      if (res.ok) return res;
      if (RETRYABLE.has(res.status) && attempt < retries) {
        await sleep(backoff(attempt));
        continue;
      }
      throw new FetchError(scrub(describeStatus(url, res.status, res.statusText), secrets));
    }
  }) as typeof globalThis.fetch;
}

/** The code of a network failure (ECONNREFUSED, ENOTFOUND …): undici hides it under "fetch failed". */
export function networkCode(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  return e.cause?.code ?? e.cause?.message ?? e.message;
}

/**
 * fetch with limits and nothing else (statuses are passed through, for clients such as
 * @huggingface/hub that read them): headers and body within `timeoutMs`, the body read whole into memory
 * but never past a cap — the range asked for, or `maxBodyBytes` — and a 200 answer to a Range request
 * (a server that ignores Range) read only up to the range's end, then aborted and answered as the 206
 * it should have been. Timeouts and caps throw FetchErrors naming the URL and the flag.
 */
export function createLimitedFetch(
  params: Pick<HttpParams, "fetch" | "timeoutMs" | "maxBodyBytes" | "counter">,
): typeof globalThis.fetch {
  const baseFetch = params.fetch ?? globalThis.fetch;
  const timeoutMs = params.timeoutMs ?? 60_000;
  const maxBodyBytes = params.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  return (async (input: string | URL | Request, init: RequestInit = {}) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new TimeoutMarker()), timeoutMs);
    const timedOut = () =>
      new FetchError(`${url}: no complete response within ${timeoutMs / 1000} s (raise --timeout)`);
    try {
      const signals = init.signal ? [controller.signal, init.signal] : [controller.signal];
      const res = await baseFetch(input, { ...init, signal: AbortSignal.any(signals), redirect: "follow" });
      if (init.method === "HEAD" || !res.body || NULL_BODY.has(res.status)) return res;
      if (!res.ok) {
        // An error page is kept (clients such as the hub read its message), up to 1 MiB of it.
        const page = await readCapped(res.body, ERROR_PAGE_BYTES, false);
        return new Response(page, { status: res.status, statusText: res.statusText, headers: res.headers });
      }
      const range = parseRange(new Headers(init.headers).get("range"));
      const ignoredRange = range !== null && res.status === 200;
      // A 200 to a Range request starts at byte 0: what is needed ends at the range's end.
      const cap =
        range?.end === undefined ? maxBodyBytes : ignoredRange ? range.end + 1 : range.end - range.start + 1;
      const body = await readCapped(res.body, cap, !ignoredRange);
      if (body === null)
        throw new FetchError(
          range
            ? `${url}: the server sent more than the ${cap} bytes asked for (Range ${range.start}-${range.end ?? ""})`
            : `${url}: body larger than ${maxBodyBytes} bytes (maxBodyBytes)`,
        );
      controller.abort(); // the rest of an ignored range is not wanted
      if (params.counter) params.counter.bytes += body.byteLength;
      if (!ignoredRange)
        return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
      const part = body.subarray(range.start);
      const total = res.headers.get("content-length") ?? "*";
      return new Response(part, {
        status: 206,
        headers: { "content-range": `bytes ${range.start}-${range.start + part.byteLength - 1}/${total}` },
      });
    } catch (err) {
      if (controller.signal.reason instanceof TimeoutMarker) throw timedOut();
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }) as typeof globalThis.fetch;
}

class TimeoutMarker extends Error {}

const NULL_BODY = new Set([101, 204, 205, 304]);
const ERROR_PAGE_BYTES = 1 << 20;

/** `bytes=S-E` or `bytes=S-` of a Range header, else null (suffix and multi-ranges are not used here). */
function parseRange(header: string | null): { start: number; end?: number } | null {
  const m = header ? /^bytes=(\d+)-(\d*)$/.exec(header.trim()) : null;
  if (!m) return null;
  return { start: Number(m[1]), ...(m[2] ? { end: Number(m[2]) } : {}) };
}

/**
 * Reads at most `cap` bytes of a body. With `strict`, a longer body is refused (null); without, the
 * first `cap` bytes are kept and the rest is not read.
 */
async function readCapped(
  body: ReadableStream<Uint8Array>,
  cap: number,
  strict: boolean,
): Promise<Uint8Array | null> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (size + value.byteLength > cap) {
        if (strict) return null;
        chunks.push(value.subarray(0, cap - size));
        size = cap;
        break;
      }
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    reader.cancel().catch(() => {});
  }
  const out = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

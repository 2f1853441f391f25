import { FetchError, GATED_HINT, scrub } from "./errors.js";

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
}

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
 * whole response (headers and body), retries transient failures, turns HTTP errors into
 * FetchErrors that name the URL (never the token), and counts the bytes received.
 */
export function createHttpFetch(params: HttpParams): typeof globalThis.fetch {
  const baseFetch = params.fetch ?? globalThis.fetch;
  const timeoutMs = params.timeoutMs ?? 60_000;
  const retries = params.retries ?? 2;
  const backoff = params.backoffMs ?? ((n: number) => 500 * 2 ** n);
  const secrets = [params.token];
  const tokenOrigin = new URL(params.hubUrl ?? "https://huggingface.co").origin;

  const once = async (url: string, init: RequestInit): Promise<Response> => {
    const headers = new Headers(init.headers);
    // A Hugging Face token is for the hub: an --input URL on another host never sees it.
    if (params.token && new URL(url).origin === tokenOrigin)
      headers.set("Authorization", `Bearer ${params.token}`);
    const signal = AbortSignal.timeout(timeoutMs);
    const res = await baseFetch(url, { ...init, headers, signal, redirect: "follow" });
    if (!res.ok) {
      await res.body?.cancel().catch(() => {});
      return res;
    }
    if (init.method === "HEAD" || !res.body) return res;
    // Read the body under the same timeout, so a server that trickles bytes cannot hang the run.
    const body = await res.arrayBuffer();
    if (params.counter) params.counter.bytes += body.byteLength;
    return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
  };

  return (async (input: string | URL | Request, init: RequestInit = {}) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await once(url, init);
      } catch (err) {
        const e = err as Error & { cause?: { code?: string } };
        if (e.name === "TimeoutError" || e.name === "AbortError")
          throw new FetchError(
            scrub(`${url}: no complete response within ${timeoutMs / 1000} s (raise --timeout)`, secrets),
          );
        if (attempt < retries) {
          await sleep(backoff(attempt));
          continue;
        }
        const code = e.cause?.code ?? e.message;
        throw new FetchError(scrub(`${url}: request failed (${code})`, secrets));
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

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

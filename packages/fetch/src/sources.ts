import { HubApiError, listFiles } from "@huggingface/hub";
import { FetchError, GATED_HINT, scrub } from "./errors.js";
import { createLimitedFetch, defaultHubUrl, networkCode } from "./http.js";
import type { Source } from "./types.js";

export const DEFAULT_HF_DATASET = "laion/relaion2B-en-research-safe";

/**
 * The original LAION part files: `{hub}/datasets/{repo}/resolve/main/part-{00000..}-{uuid}-c000.snappy.parquet`.
 * `{part}` is the 5-digit zero-padded part number, `{i}` the plain number, `{hub}` the --hub-url.
 */
export const SUBSETS: Record<string, { parts: number; template: string }> = {
  "laion2B-en": {
    parts: 128,
    template:
      "{hub}/datasets/laion/laion2B-en/resolve/main/part-{part}-5114fd87-297e-42b0-9d11-50f1df323dfa-c000.snappy.parquet",
  },
  "laion2B-en-aesthetic": {
    parts: 128,
    template:
      "{hub}/datasets/laion/laion2B-en-aesthetic/resolve/main/part-{part}-9230b837-b1e0-4254-8b88-ed2976e9cee9-c000.snappy.parquet",
  },
  "laion-coco": {
    parts: 128,
    template:
      "{hub}/datasets/laion/laion-coco/resolve/main/part-{part}-2256f782-126f-4dc6-b9c6-e6757637749d-c000.snappy.parquet",
  },
};

export interface ResolveSourcesParams {
  /** Local paths or http(s) URLs of parquet files (--input); wins over the other options. */
  input?: readonly string[];
  /** LAION part-file subset (--subset), with --num-parts. */
  subset?: string;
  numParts?: number;
  /** Part-file URL template overriding the subset's ({part}, {i}, {hub} placeholders). */
  partsUrl?: string;
  /** Hugging Face dataset repo listed with @huggingface/hub (--hf-dataset). */
  hfDataset?: string;
  revision?: string;
  hubUrl?: string;
  /** Hugging Face token (hf_…): sent as a Bearer header only. */
  token?: string;
  fetch?: typeof globalThis.fetch;
  /** Per listing request, headers and body together (--timeout); default 60 s. */
  timeoutMs?: number;
}

/** Fill a part-file template for part `i`. */
export function partUrl(template: string, i: number, hubUrl: string): string {
  return template
    .replaceAll("{hub}", hubUrl.replace(/\/+$/, ""))
    .replaceAll("{part}", String(i).padStart(5, "0"))
    .replaceAll("{i}", String(i));
}

function isUrl(s: string): boolean {
  return /^https?:\/\//i.test(s);
}

/**
 * Turn the CLI's choice of input into an ordered list of parquet files: --input as given,
 * --subset part files by URL pattern, or the parquet files of a Hugging Face dataset listed with
 * @huggingface/hub (sorted by path, so the order is stable across runs).
 */
export async function resolveSources(params: ResolveSourcesParams): Promise<Source[]> {
  const hubUrl = (params.hubUrl ?? defaultHubUrl()).replace(/\/+$/, "");
  if (params.input && params.input.length > 0) {
    if (params.subset) throw new FetchError("--input and --subset cannot be combined: pick one source");
    return params.input.map((loc) =>
      isUrl(loc) ? { location: loc, kind: "url" } : { location: loc, kind: "file" },
    );
  }
  if (params.subset || params.partsUrl) {
    const known = params.subset ? SUBSETS[params.subset] : undefined;
    if (params.subset && !known && !params.partsUrl)
      throw new FetchError(
        `unknown --subset ${params.subset}: known subsets are ${Object.keys(SUBSETS).join(", ")} (or give --parts-url)`,
      );
    const numParts = params.numParts ?? 1;
    if (!Number.isInteger(numParts) || numParts < 1)
      throw new FetchError(`--num-parts must be an integer >= 1, got ${numParts}`);
    if (known && !params.partsUrl && numParts > known.parts)
      throw new FetchError(
        `--num-parts ${numParts} is beyond what exists: ${params.subset} has ${known.parts} part files (00000..${String(known.parts - 1).padStart(5, "0")})`,
      );
    const template = params.partsUrl ?? known!.template;
    if (!template.includes("{part}") && !template.includes("{i}"))
      throw new FetchError(`--parts-url must contain {part} (5-digit part number) or {i}, got ${template}`);
    return Array.from({ length: numParts }, (_, i) => ({
      location: partUrl(template, i, hubUrl),
      kind: "url",
    }));
  }
  const dataset = params.hfDataset ?? DEFAULT_HF_DATASET;
  if (!/^[\w.-]+\/[\w.-]+$/.test(dataset))
    throw new FetchError(`--hf-dataset must look like owner/name, got ${dataset}`);
  if (params.token && !params.token.startsWith("hf_"))
    throw new FetchError("the Hugging Face token (--hf-token / HF_TOKEN) must start with hf_");
  const revision = params.revision ?? "main";
  const files: Source[] = [];
  try {
    for await (const entry of listFiles({
      repo: { type: "dataset", name: dataset },
      recursive: true,
      revision,
      hubUrl,
      ...(params.token ? { accessToken: params.token } : {}),
      // the listing gets the same limits as every other request: a timeout and a body cap
      fetch: createLimitedFetch({ fetch: params.fetch, timeoutMs: params.timeoutMs }),
    })) {
      if (entry.type !== "file" || !entry.path.endsWith(".parquet")) continue;
      const path = entry.path.split("/").map(encodeURIComponent).join("/");
      files.push({
        location: `${hubUrl}/datasets/${dataset}/resolve/${encodeURIComponent(revision)}/${path}`,
        kind: "url",
        size: entry.lfs?.size ?? entry.size,
      });
    }
  } catch (err) {
    if (err instanceof HubApiError) {
      const status = err.statusCode;
      if (status === 404)
        throw new FetchError(`unknown dataset ${dataset} on ${hubUrl} (HTTP 404): check --hf-dataset`);
      if (status === 401 || status === 403)
        throw new FetchError(
          `dataset ${dataset} on ${hubUrl}: HTTP ${status}: ${GATED_HINT}${params.token ? "" : " (no token was given)"}; a misspelt --hf-dataset also answers 401`,
        );
      throw new FetchError(
        scrub(`listing dataset ${dataset} on ${hubUrl} failed: HTTP ${status}`, [params.token]),
      );
    }
    if (err instanceof FetchError) throw new FetchError(scrub(err.message, [params.token]));
    const code = networkCode(err);
    const hint = /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH)$/.test(
      code,
    )
      ? ": cannot reach the hub — check --hub-url (or HF_ENDPOINT) and the network"
      : "";
    throw new FetchError(
      scrub(`listing dataset ${dataset} on ${hubUrl} failed (${code})${hint}`, [params.token]),
    );
  }
  if (files.length === 0)
    throw new FetchError(`dataset ${dataset} has no .parquet files at revision ${revision}`);
  files.sort((a, b) => (a.location < b.location ? -1 : a.location > b.location ? 1 : 0));
  return files;
}

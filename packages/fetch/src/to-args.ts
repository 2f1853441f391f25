import { toArgs } from "@laion/cli-kit";
import type { FetchLaionSubsetParams } from "./fetch-subset.js";

/** The `fetch-laion-subset` argv for these params (the token is never put on a command line). */
export function fetchArgs(params: FetchLaionSubsetParams): string[] {
  return toArgs(params, {
    token: null,
    fetch: null,
    timeoutMs: (ms) => ["--timeout", String(Number(ms) / 1000)],
    batchRows: null,
    maxBatchRows: null,
    memory: null,
  });
}

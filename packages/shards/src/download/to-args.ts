import { toArgs } from "@laion/cli-kit";
import type { DownloadParams } from "./download-params.js";

/** The `download-laion-images` argv for these params (credentials and clients are never printed). */
export function downloadArgs(params: DownloadParams): string[] {
  return toArgs(params, {
    input: (v) => ["--input", ...(Array.isArray(v) ? v.map(String) : [String(v)])],
    timeoutMs: (ms) => ["--timeout", String(Number(ms) / 1000)],
    captionCol: (v) => ["--caption-col", v === null ? "" : String(v)],
    saveAdditionalColumns: (v) => ["--save-additional-columns", (v as string[]).join(",")],
    disallowedDirectives: (v) => ((v as string[]).length === 0 ? ["--disallow-robots-header", "false"] : []),
    allowAddresses: (v) => (v as string[]).flatMap((a) => ["--allow-address", a]),
    region: "--s3-region",
    endpoint: "--s3-endpoint",
    credentials: null,
    s3Client: null,
    env: null,
    retryBaseDelayMs: null,
    retryMaxDelayMs: null,
    userAgent: null,
    maxSocketsPerHost: null,
  });
}

import { S3Client } from "@aws-sdk/client-s3";

/** Where and how to reach S3 or an S3-compatible store (MinIO, R2, s3rver…). */
export interface S3Options {
  /** Endpoint URL of an S3-compatible store; defaults to $AWS_ENDPOINT_URL_S3 / $AWS_ENDPOINT_URL. Implies path-style addressing. */
  endpoint?: string;
  /** Region; defaults to $AWS_REGION / $AWS_DEFAULT_REGION, then "us-east-1". */
  region?: string;
  /** Static credentials; default to $AWS_ACCESS_KEY_ID / $AWS_SECRET_ACCESS_KEY / $AWS_SESSION_TOKEN, then the SDK's default chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

/** The bucket and key (or prefix) of an `s3://bucket/key` URL. */
export function parseS3Url(url: string): { bucket: string; key: string } {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(url);
  if (!m?.[1]) throw new Error(`not an s3:// URL: ${url} (expected s3://bucket/key)`);
  return { bucket: m[1], key: m[2] ?? "" };
}

/** An S3 client configured from `options`, falling back to the standard AWS environment variables. */
export function createS3Client(options: S3Options = {}, env: NodeJS.ProcessEnv = process.env): S3Client {
  const endpoint = options.endpoint ?? env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL;
  const region = options.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? "us-east-1";
  const credentials =
    options.credentials ??
    (env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
      ? {
          accessKeyId: env.AWS_ACCESS_KEY_ID,
          secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
          ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
        }
      : undefined);
  return new S3Client({
    region,
    ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
    ...(credentials ? { credentials } : {}),
  });
}

/**
 * An S3 SDK error in words. When the endpoint is not S3 at all (a web server, a wrong port), the SDK's own
 * message only says to "inspect the hidden field {error}.$response": say what came back and which flag to check.
 */
export function describeS3Error(error: unknown): string {
  const e = error as Error & {
    $response?: { statusCode?: number; headers?: Record<string, string | undefined> };
    $metadata?: { httpStatusCode?: number };
  };
  const message = e?.message ?? String(error);
  if (
    message.includes("$response") ||
    message.includes("Deserialization error") ||
    message === "UnknownError"
  ) {
    const status = e.$response?.statusCode ?? e.$metadata?.httpStatusCode;
    const type = e.$response?.headers?.["content-type"];
    return `the endpoint did not answer as S3 does (HTTP ${status ?? "?"}${type ? `, ${type}` : ""}): check --s3-endpoint / $AWS_ENDPOINT_URL`;
  }
  return `${e?.name && e.name !== "Error" ? `${e.name}: ` : ""}${message}`;
}

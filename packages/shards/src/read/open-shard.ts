import { spawn } from "node:child_process";
import { createReadStream } from "node:fs";
import { Readable } from "node:stream";
import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { describeS3Error, parseS3Url } from "./s3.js";

/** An open byte stream of one shard. */
export interface OpenedShard {
  stream: Readable;
  /** Settles once the source is known to be complete (a `pipe:` command's exit status). */
  finished: Promise<void>;
  /** Stops reading: closes the file, socket or child process. Safe to call twice. */
  close(): void;
}

export interface OpenShardOptions {
  /** Lazily created S3 client for `s3://` URLs. */
  s3Client?: () => S3Client;
  /** Read size for local files (bytes). */
  highWaterMark?: number;
  /** http(s): longest wait for the response headers and for each body chunk asked for (ms, default 30000). */
  timeoutMs?: number;
}

export const DEFAULT_HTTP_TIMEOUT_MS = 30_000;

/**
 * Opens `url` as a stream without reading it whole: a local path (or file://), `http(s)://`
 * (fetch, streamed), `s3://bucket/key` (GetObject body) or `pipe:command` (the command's
 * stdout, run by `sh -c`). Rejects when the source cannot be reached (HTTP status, missing
 * S3 key, missing file).
 */
export async function openShard(url: string, options: OpenShardOptions = {}): Promise<OpenedShard> {
  if (/^https?:\/\//.test(url)) return openHttp(url, options.timeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS);
  if (url.startsWith("s3://")) return openS3(url, options);
  if (url.startsWith("pipe:")) return openPipe(url.slice("pipe:".length));
  return openFile(url.startsWith("file://") ? new URL(url).pathname : url, options);
}

async function openFile(path: string, options: OpenShardOptions): Promise<OpenedShard> {
  const stream = createReadStream(path, { highWaterMark: options.highWaterMark ?? 1 << 20 });
  // Surface ENOENT/EACCES here, as "unreachable", rather than mid-parse.
  await new Promise<void>((resolve, reject) => {
    stream.once("open", () => {
      stream.off("error", reject);
      resolve();
    });
    stream.once("error", reject);
  });
  return { stream, finished: Promise.resolve(), close: () => stream.destroy() };
}

async function openHttp(url: string, timeoutMs: number): Promise<OpenedShard> {
  const controller = new AbortController();
  const abort = () => controller.abort();
  const response = await withTimeout(
    fetch(url, { signal: controller.signal }),
    timeoutMs,
    `no response headers within ${timeoutMs} ms (timeoutMs / --timeout)`,
    abort,
  );
  if (!response.ok || !response.body) {
    controller.abort();
    throw new Error(`HTTP ${response.status} ${response.statusText}`.trim());
  }
  const reader = response.body.getReader();
  // The timer runs only while the reader waits on the server: a slow consumer (backpressure)
  // never trips it, a server that stops sending does.
  async function* chunks(): AsyncGenerator<Uint8Array> {
    try {
      for (;;) {
        const { done, value } = await withTimeout(
          reader.read(),
          timeoutMs,
          `server sent nothing for ${timeoutMs} ms (timeoutMs / --timeout)`,
          abort,
        );
        if (done) return;
        yield value;
      }
    } finally {
      controller.abort();
    }
  }
  const stream = Readable.from(chunks(), { objectMode: false });
  // Swallow the AbortError that close() causes on a stream nobody reads any more.
  stream.on("error", () => {});
  return {
    stream,
    finished: Promise.resolve(),
    close: () => {
      controller.abort();
      stream.destroy();
    },
  };
}

/**
 * `promise`, or an Error with `message` once `ms` have passed with no answer; `onExpire` (closing the
 * request) runs after the race is decided, so its own AbortError does not replace the message.
 *
 * The timer counts wall time and can run late: when synchronous work on this thread (a training step,
 * tfjs-node's synchronous ops) outlasts `ms`, the event loop's next turn runs the expired timer (timers
 * phase) before it reads the socket data that arrived meanwhile (poll phase). So an expired timer first
 * lets that turn's I/O run (a setImmediate callback runs after the poll phase) and fails only if the answer
 * is still missing: the timeout means no progress for `ms`, whatever this thread was doing.
 */
async function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
  message: string,
  onExpire: () => void,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let grace: NodeJS.Immediate | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      grace = setImmediate(() => {
        reject(new Error(message));
        queueMicrotask(onExpire);
      });
    }, ms);
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
    clearImmediate(grace);
  }
}

async function openS3(url: string, options: OpenShardOptions): Promise<OpenedShard> {
  if (!options.s3Client) throw new Error("no S3 client configured");
  const { bucket, key } = parseS3Url(url);
  const controller = new AbortController();
  const response = await options
    .s3Client()
    .send(new GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: controller.signal })
    .catch((error: unknown) => {
      throw new Error(describeS3Error(error));
    });
  const body = response.Body;
  if (!(body instanceof Readable)) throw new Error("S3 GetObject returned no readable body");
  body.on("error", () => {});
  return {
    stream: body,
    finished: Promise.resolve(),
    close: () => {
      controller.abort();
      body.destroy();
    },
  };
}

async function openPipe(command: string): Promise<OpenedShard> {
  const child = spawn("sh", ["-c", command], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (text: string) => {
    stderr = (stderr + text).slice(-2000);
  });
  let closing = false;
  const finished = new Promise<void>((resolve, reject) => {
    child.once("error", (error) => reject(new Error(`cannot run pipe command: ${error.message}`)));
    child.once("close", (code, signal) => {
      if (code === 0 || closing) resolve();
      else
        reject(
          new Error(
            `pipe command ${JSON.stringify(command)} exited with ${code ?? signal}${stderr ? `: ${stderr.trim()}` : ""}`,
          ),
        );
    });
  });
  finished.catch(() => {}); // observed by the reader after the tar ends
  return {
    stream: child.stdout,
    finished,
    close: () => {
      closing = true;
      child.stdout.destroy();
      if (child.exitCode === null) child.kill();
    },
  };
}

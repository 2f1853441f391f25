import { Transform, type TransformCallback } from "node:stream";

/**
 * Decodes an `aws-chunked` request body (`<hex size>[;chunk-signature=…]\r\n<data>\r\n … 0\r\n<trailers>\r\n\r\n`)
 * into the object's bytes. Recent @aws-sdk/client-s3 versions send streamed uploads this way with a
 * CRC32 trailer (x-amz-content-sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER); S3 strips the framing, s3rver
 * does not, so without this the stand-in would store the framing as object data. Trailers (checksums)
 * are parsed and exposed, not verified.
 */
export class AwsChunkedDecoder extends Transform {
  /** Trailer headers seen after the last chunk, lower-cased names (e.g. `x-amz-checksum-crc32`). */
  readonly trailers: Record<string, string> = {};
  private pending: Buffer = Buffer.alloc(0);
  private remaining = 0; // data bytes left in the current chunk
  private state: "size" | "data" | "data-crlf" | "trailers" | "done" = "size";

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    try {
      this.drain();
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    if (this.state !== "done" && this.state !== "trailers") {
      callback(new Error(`aws-chunked body ended early (while reading ${this.state})`));
    } else callback();
  }

  private drain(): void {
    while (this.pending.length > 0 && this.state !== "done") {
      if (this.state === "data") {
        const n = Math.min(this.remaining, this.pending.length);
        this.push(this.pending.subarray(0, n));
        this.pending = this.pending.subarray(n);
        this.remaining -= n;
        if (this.remaining === 0) this.state = "data-crlf";
        continue;
      }
      const eol = this.pending.indexOf("\r\n");
      if (eol < 0) {
        if (this.pending.length > 64 * 1024) throw new Error("aws-chunked header line too long");
        return;
      }
      const line = this.pending.subarray(0, eol).toString("latin1");
      this.pending = this.pending.subarray(eol + 2);
      if (this.state === "data-crlf") {
        if (line !== "") throw new Error("aws-chunked: missing CRLF after chunk data");
        this.state = "size";
      } else if (this.state === "size") {
        const size = Number.parseInt(line.split(";")[0]!, 16);
        if (!Number.isFinite(size) || size < 0) throw new Error(`aws-chunked: bad chunk size line "${line}"`);
        if (size === 0) this.state = "trailers";
        else {
          this.remaining = size;
          this.state = "data";
        }
      } else if (this.state === "trailers") {
        if (line === "") this.state = "done";
        else {
          const colon = line.indexOf(":");
          if (colon > 0)
            this.trailers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
        }
      }
    }
  }
}

/** Whether a request's body is aws-chunked framed (by Content-Encoding or the streaming payload marker). */
export function isAwsChunked(headers: Record<string, string | string[] | undefined>): boolean {
  const encoding = String(headers["content-encoding"] ?? "");
  const sha = String(headers["x-amz-content-sha256"] ?? "");
  return encoding.split(",").some((e) => e.trim() === "aws-chunked") || sha.startsWith("STREAMING-");
}

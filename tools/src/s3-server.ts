import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { AwsChunkedDecoder, isAwsChunked } from "./aws-chunked.js";
import { listen, parseRange } from "./http-util.js";
import { verifySigV4 } from "./s3-sigv4.js";
import { allTags, el, xmlDoc } from "./s3-xml.js";

export interface S3ServerOptions {
  /** Buckets created before the server answers. */
  buckets: string[];
}

export interface S3Request {
  method: string;
  /** Path with query string, as sent. */
  path: string;
  range?: string;
}

export interface S3Server {
  /** `http://127.0.0.1:<port>`; path-style addressing only (`forcePathStyle: true`). */
  endpoint: string;
  region: "us-east-1";
  accessKeyId: "S3RVER";
  secretAccessKey: "S3RVER";
  /** The temporary folder holding object bodies (removed by close()). */
  directory: string;
  /** Every request received, in arrival order (no credentials). */
  requests: S3Request[];
  close(): Promise<void>;
}

interface StoredObject {
  file: string;
  size: number;
  etag: string; // quoted, as S3 sends it
  lastModified: Date;
  contentType: string;
  metadata: Record<string, string>;
}

interface Upload {
  bucket: string;
  key: string;
  contentType: string;
  metadata: Record<string, string>;
  parts: Map<number, { file: string; size: number; etag: string }>;
}

class S3Error extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: Record<string, string> = {},
  ) {
    super(message);
  }
}

const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/**
 * Starts an S3-compatible stand-in on 127.0.0.1 (random port), path-style, with object bodies in a fresh
 * temporary folder. It speaks the subset of the S3 REST API that shard readers and writers use: buckets,
 * Put/Get (Range)/Head/Delete/Copy object, DeleteObjects, ListObjects(V2) with prefix, delimiter and
 * pagination, and multipart uploads. Requests must be signed (SigV4) with the returned credentials;
 * aws-chunked bodies (the SDK's default for streamed uploads) are decoded. Pair it with
 * `new S3Client(s3ClientConfig(server))`.
 */
export async function startS3Server(params: S3ServerOptions): Promise<S3Server> {
  const accessKeyId = "S3RVER";
  const secretAccessKey = "S3RVER";
  const directory = await fs.promises.mkdtemp(path.join(os.tmpdir(), "laion-s3-"));
  const buckets = new Map<string, Map<string, StoredObject>>();
  for (const b of params.buckets) buckets.set(b, new Map());
  const uploads = new Map<string, Upload>();
  const requests: S3Request[] = [];
  let fileCounter = 0;

  /** Streams a request body (aws-chunked decoded) into a new file; returns its path, size and MD5. */
  async function receiveBody(
    req: http.IncomingMessage,
  ): Promise<{ file: string; size: number; md5: string }> {
    const file = path.join(directory, `body-${++fileCounter}`);
    const hash = crypto.createHash("md5");
    let size = 0;
    const source: Readable = isAwsChunked(req.headers) ? req.pipe(new AwsChunkedDecoder()) : req;
    if (source !== req) req.on("error", (err) => source.destroy(err));
    source.on("data", (c: Buffer) => {
      hash.update(c);
      size += c.length;
    });
    await pipeline(source, fs.createWriteStream(file));
    return { file, size, md5: hash.digest("hex") };
  }

  function userMetadata(req: http.IncomingMessage): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (k.startsWith("x-amz-meta-")) out[k] = String(v);
    return out;
  }

  function bucketOf(name: string): Map<string, StoredObject> {
    const b = buckets.get(name);
    if (!b)
      throw new S3Error(404, "NoSuchBucket", "The specified bucket does not exist", { BucketName: name });
    return b;
  }

  function objectOf(bucket: string, key: string): StoredObject {
    const o = bucketOf(bucket).get(key);
    if (!o) throw new S3Error(404, "NoSuchKey", "The specified key does not exist.", { Key: key });
    return o;
  }

  function store(bucket: string, key: string, obj: StoredObject): void {
    const b = bucketOf(bucket);
    const old = b.get(key);
    b.set(key, obj);
    if (old && old.file !== obj.file) fs.promises.rm(old.file, { force: true }).catch(() => {});
  }

  const sendXml = (
    res: http.ServerResponse,
    status: number,
    body: string,
    headers: Record<string, string> = {},
  ) => {
    res.writeHead(status, {
      "Content-Type": "application/xml",
      "Content-Length": Buffer.byteLength(body),
      ...headers,
    });
    res.end(body);
  };

  function list(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    bucket: string,
    q: URLSearchParams,
  ): void {
    const objects = bucketOf(bucket);
    const v2 = q.get("list-type") === "2";
    const prefix = q.get("prefix") ?? "";
    const delimiter = q.get("delimiter") ?? "";
    const maxKeys = Math.min(1000, Math.max(0, Number(q.get("max-keys") ?? 1000)));
    const urlEncode = q.get("encoding-type") === "url";
    const enc = (s: string) => (urlEncode ? encodeURIComponent(s).replace(/%2F/g, "/") : s);
    let after = (v2 ? q.get("start-after") : q.get("marker")) ?? "";
    const token = q.get("continuation-token");
    if (v2 && token !== null) {
      after = Buffer.from(token, "base64url").toString("utf8");
    }
    const keys = [...objects.keys()]
      .filter((k) => k.startsWith(prefix) && byteOrder(k, after) > 0)
      .sort(byteOrder);
    const contents: string[] = [];
    const prefixes: string[] = [];
    let last = "";
    let truncated = false;
    for (const key of keys) {
      let common: string | undefined;
      if (delimiter) {
        const i = key.indexOf(delimiter, prefix.length);
        if (i >= 0) common = key.slice(0, i + delimiter.length);
      }
      if (common !== undefined && common === prefixes[prefixes.length - 1]) continue;
      if (contents.length + prefixes.length >= maxKeys) {
        truncated = true;
        break;
      }
      if (common !== undefined) {
        prefixes.push(common);
        // skip the rest of this group on the next page too
        last = common + "\u{10FFFF}";
      } else {
        const o = objects.get(key)!;
        contents.push(
          `<Contents>${el("Key", enc(key))}${el("LastModified", o.lastModified.toISOString())}${el("ETag", o.etag)}${el("Size", o.size)}${el("StorageClass", "STANDARD")}</Contents>`,
        );
        last = key;
      }
    }
    const common = prefixes.map((p) => `<CommonPrefixes>${el("Prefix", enc(p))}</CommonPrefixes>`).join("");
    let inner = el("Name", bucket) + el("Prefix", enc(prefix)) + el("MaxKeys", maxKeys);
    if (delimiter) inner += el("Delimiter", enc(delimiter));
    if (urlEncode) inner += el("EncodingType", "url");
    inner += el("IsTruncated", truncated);
    if (v2) {
      inner += el("KeyCount", contents.length + prefixes.length);
      if (token !== null) inner += el("ContinuationToken", token);
      if (q.get("start-after")) inner += el("StartAfter", enc(q.get("start-after")!));
      if (truncated) inner += el("NextContinuationToken", Buffer.from(last).toString("base64url"));
    } else {
      inner += el("Marker", enc(q.get("marker") ?? ""));
      if (truncated && delimiter) inner += el("NextMarker", enc(last));
    }
    sendXml(res, 200, xmlDoc("ListBucketResult", inner + contents.join("") + common));
    void req;
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const target = req.url ?? "/";
    const url = new URL(target, "http://localhost");
    const q = url.searchParams;
    const method = req.method ?? "GET";
    const auth = verifySigV4(req, accessKeyId, secretAccessKey);
    if (!auth.ok) throw new S3Error(403, auth.code, auth.message);
    const [, rawBucket = "", ...rawKey] = url.pathname.split("/");
    const bucket = decodeURIComponent(rawBucket);
    const key = decodeURIComponent(rawKey.join("/"));

    if (!bucket) {
      if (method !== "GET") throw new S3Error(405, "MethodNotAllowed", "The specified method is not allowed");
      const list = [...buckets.keys()]
        .map((b) => `<Bucket>${el("Name", b)}${el("CreationDate", new Date(0).toISOString())}</Bucket>`)
        .join("");
      return sendXml(
        res,
        200,
        xmlDoc("ListAllMyBucketsResult", `<Owner>${el("ID", "s3rver")}</Owner><Buckets>${list}</Buckets>`),
      );
    }

    if (!key) {
      if (method === "PUT") {
        req.resume();
        if (!buckets.has(bucket)) buckets.set(bucket, new Map());
        res.writeHead(200, { Location: `/${bucket}`, "Content-Length": 0 });
        return void res.end();
      }
      if (method === "HEAD") {
        bucketOf(bucket);
        res.writeHead(200, { "Content-Length": 0 });
        return void res.end();
      }
      if (method === "DELETE") {
        if (bucketOf(bucket).size > 0)
          throw new S3Error(409, "BucketNotEmpty", "The bucket you tried to delete is not empty");
        buckets.delete(bucket);
        res.writeHead(204);
        return void res.end();
      }
      if (method === "GET" && q.has("location")) {
        bucketOf(bucket);
        return sendXml(res, 200, xmlDoc("LocationConstraint", ""));
      }
      if (method === "GET") return list(req, res, bucket, q);
      if (method === "POST" && q.has("delete")) {
        const objects = bucketOf(bucket);
        const chunks: Buffer[] = [];
        for await (const c of req) chunks.push(c as Buffer);
        const body = Buffer.concat(chunks).toString("utf8");
        const deleted = allTags(body, "Key").map((k) => {
          const o = objects.get(k);
          if (o) {
            objects.delete(k);
            fs.promises.rm(o.file, { force: true }).catch(() => {});
          }
          return `<Deleted>${el("Key", k)}</Deleted>`;
        });
        return sendXml(res, 200, xmlDoc("DeleteResult", deleted.join("")));
      }
      throw new S3Error(
        405,
        "MethodNotAllowed",
        "The specified method is not allowed against this resource.",
      );
    }

    // object routes
    if (method === "POST" && q.has("uploads")) {
      bucketOf(bucket);
      const uploadId = crypto.randomBytes(16).toString("hex");
      uploads.set(uploadId, {
        bucket,
        key,
        contentType: String(req.headers["content-type"] ?? "binary/octet-stream"),
        metadata: userMetadata(req),
        parts: new Map(),
      });
      req.resume();
      return sendXml(
        res,
        200,
        xmlDoc(
          "InitiateMultipartUploadResult",
          el("Bucket", bucket) + el("Key", key) + el("UploadId", uploadId),
        ),
      );
    }
    const uploadId = q.get("uploadId");
    if (uploadId !== null) {
      const upload = uploads.get(uploadId);
      if (!upload || upload.bucket !== bucket || upload.key !== key) {
        throw new S3Error(404, "NoSuchUpload", "The specified upload does not exist.", {
          UploadId: uploadId,
        });
      }
      if (method === "PUT") {
        const partNumber = Number(q.get("partNumber"));
        if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > 10000) {
          throw new S3Error(
            400,
            "InvalidArgument",
            "Part number must be an integer between 1 and 10000, inclusive",
          );
        }
        const body = await receiveBody(req);
        const old = upload.parts.get(partNumber);
        if (old) fs.promises.rm(old.file, { force: true }).catch(() => {});
        upload.parts.set(partNumber, { file: body.file, size: body.size, etag: `"${body.md5}"` });
        res.writeHead(200, { ETag: `"${body.md5}"`, "Content-Length": 0 });
        return void res.end();
      }
      if (method === "POST") {
        const chunks: Buffer[] = [];
        for await (const c of req) chunks.push(c as Buffer);
        const xml = Buffer.concat(chunks).toString("utf8");
        const numbers = allTags(xml, "PartNumber").map(Number);
        const etags = allTags(xml, "ETag");
        const chosen = numbers.map((n, i) => {
          const part = upload.parts.get(n);
          if (!part || part.etag.replace(/"/g, "") !== (etags[i] ?? "").replace(/"/g, "")) {
            throw new S3Error(400, "InvalidPart", "One or more of the specified parts could not be found.");
          }
          return part;
        });
        for (let i = 1; i < numbers.length; i++) {
          if (numbers[i]! <= numbers[i - 1]!)
            throw new S3Error(400, "InvalidPartOrder", "The list of parts was not in ascending order.");
        }
        for (const p of chosen.slice(0, -1)) {
          if (p.size < 5 * 1024 * 1024)
            throw new S3Error(
              400,
              "EntityTooSmall",
              "Your proposed upload is smaller than the minimum allowed object size.",
            );
        }
        const file = path.join(directory, `body-${++fileCounter}`);
        const out = fs.createWriteStream(file);
        for (const p of chosen) await pipeline(fs.createReadStream(p.file), out, { end: false });
        await new Promise<void>((resolve, reject) =>
          out.end((err?: Error | null) => (err ? reject(err) : resolve())),
        );
        const md5s = Buffer.concat(chosen.map((p) => Buffer.from(p.etag.replace(/"/g, ""), "hex")));
        const etag = `"${crypto.createHash("md5").update(md5s).digest("hex")}-${chosen.length}"`;
        store(bucket, key, {
          file,
          size: chosen.reduce((s, p) => s + p.size, 0),
          etag,
          lastModified: new Date(),
          contentType: upload.contentType,
          metadata: upload.metadata,
        });
        for (const p of upload.parts.values()) fs.promises.rm(p.file, { force: true }).catch(() => {});
        uploads.delete(uploadId);
        return sendXml(
          res,
          200,
          xmlDoc(
            "CompleteMultipartUploadResult",
            el("Location", `/${bucket}/${key}`) + el("Bucket", bucket) + el("Key", key) + el("ETag", etag),
          ),
        );
      }
      if (method === "DELETE") {
        for (const p of upload.parts.values()) fs.promises.rm(p.file, { force: true }).catch(() => {});
        uploads.delete(uploadId);
        res.writeHead(204);
        return void res.end();
      }
    }
    if (method === "PUT") {
      bucketOf(bucket);
      const copySource = req.headers["x-amz-copy-source"];
      if (copySource) {
        req.resume();
        const [srcBucket = "", ...srcKey] = decodeURIComponent(String(copySource).replace(/^\//, "")).split(
          "/",
        );
        const src = objectOf(srcBucket, srcKey.join("/"));
        const file = path.join(directory, `body-${++fileCounter}`);
        await fs.promises.copyFile(src.file, file);
        const copy = { ...src, file, lastModified: new Date() };
        if (req.headers["x-amz-metadata-directive"] === "REPLACE") {
          copy.metadata = userMetadata(req);
          copy.contentType = String(req.headers["content-type"] ?? src.contentType);
        }
        store(bucket, key, copy);
        return sendXml(
          res,
          200,
          xmlDoc(
            "CopyObjectResult",
            el("LastModified", copy.lastModified.toISOString()) + el("ETag", copy.etag),
          ),
        );
      }
      const body = await receiveBody(req);
      const etag = `"${body.md5}"`;
      store(bucket, key, {
        file: body.file,
        size: body.size,
        etag,
        lastModified: new Date(),
        contentType: String(req.headers["content-type"] ?? "binary/octet-stream"),
        metadata: userMetadata(req),
      });
      res.writeHead(200, { ETag: etag, "Content-Length": 0 });
      return void res.end();
    }
    if (method === "GET" || method === "HEAD") {
      const o = objectOf(bucket, key);
      const headers: Record<string, string | number> = {
        "Content-Type": q.get("response-content-type") ?? o.contentType,
        ETag: o.etag,
        "Last-Modified": o.lastModified.toUTCString(),
        "Accept-Ranges": "bytes",
        ...o.metadata,
      };
      const range = parseRange(req.headers.range, o.size);
      if (range.kind === "unsatisfiable") {
        throw new S3Error(416, "InvalidRange", "The requested range is not satisfiable", {
          RangeRequested: String(req.headers.range),
        });
      }
      const [start, end] = range.kind === "range" ? [range.start, range.end] : [0, o.size - 1];
      headers["Content-Length"] = o.size === 0 ? 0 : end - start + 1;
      if (range.kind === "range") headers["Content-Range"] = `bytes ${start}-${end}/${o.size}`;
      res.writeHead(range.kind === "range" ? 206 : 200, headers);
      if (method === "HEAD" || o.size === 0) return void res.end();
      await pipeline(fs.createReadStream(o.file, { start, end }), res);
      return;
    }
    if (method === "DELETE") {
      const objects = bucketOf(bucket);
      const o = objects.get(key);
      if (o) {
        objects.delete(key);
        fs.promises.rm(o.file, { force: true }).catch(() => {});
      }
      res.writeHead(204);
      return void res.end();
    }
    throw new S3Error(405, "MethodNotAllowed", "The specified method is not allowed against this resource.");
  }

  const server = http.createServer((req, res) => {
    const rec: S3Request = { method: req.method ?? "GET", path: req.url ?? "/" };
    if (req.headers.range) rec.range = req.headers.range;
    requests.push(rec);
    handle(req, res).catch((err: unknown) => {
      if (res.headersSent) return void res.destroy();
      const e = err instanceof S3Error ? err : new S3Error(500, "InternalError", String(err));
      req.resume(); // drain an unread body so the client sees the error, not a reset
      const requestId = crypto.randomBytes(8).toString("hex").toUpperCase();
      if (req.method === "HEAD") {
        res.writeHead(e.status, { "x-amz-request-id": requestId, "Content-Length": 0 });
        return void res.end();
      }
      const extra = Object.entries(e.extra)
        .map(([k, v]) => el(k, v))
        .join("");
      const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error>${el("Code", e.code)}${el("Message", e.message)}${extra}${el("RequestId", requestId)}</Error>`;
      sendXml(res, e.status, body, { "x-amz-request-id": requestId });
    });
  });

  const listening = await listen(server);
  let closed: Promise<void> | undefined;
  return {
    endpoint: listening.url,
    region: "us-east-1",
    accessKeyId,
    secretAccessKey,
    directory,
    requests,
    close() {
      closed ??= (async () => {
        await listening.close();
        await fs.promises.rm(directory, { recursive: true, force: true });
      })();
      return closed;
    },
  };
}

/**
 * The config for `new S3Client(...)` (@aws-sdk/client-s3) that talks to `server`: endpoint, region,
 * credentials and path-style addressing. The SDK's default checksum behaviour works as is.
 */
export function s3ClientConfig(
  server: Pick<S3Server, "endpoint" | "region" | "accessKeyId" | "secretAccessKey">,
) {
  return {
    endpoint: server.endpoint,
    region: server.region,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    forcePathStyle: true,
  };
}

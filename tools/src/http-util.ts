import fs from "node:fs";
import http from "node:http";
import type net from "node:net";
import path from "node:path";

/** Content types by file extension; anything unknown is served as application/octet-stream. */
const CONTENT_TYPES: Record<string, string> = {
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".png": "image/png",
  ".webp": "image/webp",
  ".gif": "image/gif",
  ".bmp": "image/bmp",
  ".tif": "image/tiff",
  ".tiff": "image/tiff",
  ".avif": "image/avif",
  ".txt": "text/plain; charset=utf-8",
  ".md": "text/markdown; charset=utf-8",
  ".json": "application/json",
  ".jsonl": "application/jsonl",
  ".csv": "text/csv; charset=utf-8",
  ".html": "text/html; charset=utf-8",
  ".tar": "application/x-tar",
  ".tgz": "application/gzip",
  ".gz": "application/gzip",
  ".parquet": "application/octet-stream",
};

export function contentTypeFor(file: string): string {
  return CONTENT_TYPES[path.extname(file).toLowerCase()] ?? "application/octet-stream";
}

/** A parsed `Range` header: a satisfiable byte window, unsatisfiable (→ 416), or absent/ignored (→ 200). */
export type RangeResult =
  | { kind: "none" }
  | { kind: "unsatisfiable" }
  | { kind: "range"; start: number; end: number };

/**
 * Parses a single-range `Range: bytes=…` header against a resource of `size` bytes (end inclusive).
 * Multi-range and malformed headers are ignored (RFC 9110 allows serving the whole body), which is what
 * the servers of the hub and S3 do too.
 */
export function parseRange(header: string | undefined, size: number): RangeResult {
  if (!header) return { kind: "none" };
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m) return { kind: "none" };
  const [, a, b] = m;
  if (a === "" && b === "") return { kind: "none" };
  if (a === "") {
    // suffix range: the last N bytes
    const n = Number(b);
    if (n === 0 || size === 0) return { kind: "unsatisfiable" };
    return { kind: "range", start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(a);
  const end = b === "" ? size - 1 : Math.min(Number(b), size - 1);
  if (start >= size || (b !== "" && Number(b) < start)) return { kind: "unsatisfiable" };
  return { kind: "range", start, end };
}

/**
 * Sends a file with HEAD and single-range support: 200 with Accept-Ranges and Content-Length, 206 with
 * Content-Range, or 416 with `Content-Range: bytes *\/size` for an unsatisfiable range.
 */
export function sendFile(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  file: string,
  extraHeaders: Record<string, string> = {},
): void {
  let size: number;
  try {
    const st = fs.statSync(file);
    if (!st.isFile()) throw new Error("not a file");
    size = st.size;
  } catch {
    sendText(res, 404, "not found\n");
    return;
  }
  const range = parseRange(req.headers.range, size);
  const base = { "Content-Type": contentTypeFor(file), "Accept-Ranges": "bytes", ...extraHeaders };
  if (range.kind === "unsatisfiable") {
    res.writeHead(416, { ...base, "Content-Range": `bytes */${size}`, "Content-Length": "0" });
    res.end();
    return;
  }
  const [start, end] = range.kind === "range" ? [range.start, range.end] : [0, size - 1];
  const length = size === 0 ? 0 : end - start + 1;
  const headers: Record<string, string> = { ...base, "Content-Length": String(length) };
  if (range.kind === "range") headers["Content-Range"] = `bytes ${start}-${end}/${size}`;
  res.writeHead(range.kind === "range" ? 206 : 200, headers);
  if (req.method === "HEAD" || length === 0) {
    res.end();
    return;
  }
  const stream = fs.createReadStream(file, { start, end });
  stream.on("error", () => res.destroy());
  stream.pipe(res);
}

export function sendText(res: http.ServerResponse, status: number, body: string, type = "text/plain"): void {
  res.writeHead(status, { "Content-Type": type, "Content-Length": String(Buffer.byteLength(body)) });
  res.end(body);
}

export function sendJson(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

/** Resolves `rel` inside `root`, or null when it would escape it (`..`, absolute paths). */
export function safeJoin(root: string, rel: string): string | null {
  const full = path.resolve(root, `.${path.posix.sep}${rel}`);
  const rootResolved = path.resolve(root);
  return full === rootResolved || full.startsWith(rootResolved + path.sep) ? full : null;
}

/** A started node:http server on 127.0.0.1 whose close() also destroys open sockets, so tests never hang. */
export interface Listening {
  url: string;
  close(): Promise<void>;
  onClose(fn: () => void): void;
}

/** Listens on 127.0.0.1 at `port` (0: a free one; a fixed one lets a test stop a server and bring it back). */
export async function listen(server: http.Server, port = 0): Promise<Listening> {
  const sockets = new Set<net.Socket>();
  const cleanups: (() => void)[] = [];
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as net.AddressInfo;
  let closed: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${address.port}`,
    onClose: (fn) => cleanups.push(fn),
    close() {
      closed ??= new Promise<void>((resolve) => {
        for (const fn of cleanups) fn();
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

/**
 * A node:http server answering with `handler` on a free 127.0.0.1 port: what a test needs for a server
 * that misbehaves in its own way (silent, stalling, endless, chunked). close() ends open connections too.
 */
export function serve(handler: http.RequestListener): Promise<Listening> {
  return listen(http.createServer(handler));
}

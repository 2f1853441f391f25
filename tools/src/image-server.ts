import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { corruptJpeg, hugePng } from "./bad-images.js";
import { fixturePath } from "./fixtures.js";
import { contentTypeFor, listen, safeJoin, sendFile, sendText } from "./http-util.js";

/** Every `/fault/<kind>/<name>` behaviour the image server knows; see docs/tools.md for what each does. */
export const FAULT_KINDS = [
  "404",
  "500",
  "503-then-ok",
  "429-then-ok",
  "slow",
  "truncated",
  "redirect-chain",
  "redirect-loop",
  "wrong-content-type",
  "lying-content-length",
  "lying-content-length-big",
  "noai",
  "noimageai",
  "noindex",
  "huge",
  "corrupt",
  "empty",
] as const;

export type FaultKind = (typeof FAULT_KINDS)[number];

export interface ImageServerOptions {
  /** Folder served at `/images/<name>` and used for fault bodies. Default: fixtures/images/originals. */
  root?: string;
  /** Extra files served at `/files/<name>`: `{ "/name.parquet": "/abs/path" }` (leading slash optional). */
  extraFiles?: Record<string, string>;
  /** How long the `slow` fault takes to trickle its body. Default 10000 ms; `?ms=N` overrides per request. */
  slowMs?: number;
  /** Width and height claimed by the `huge` fault's PNG. Default 30000 (900 Mpx, over sharp's default limit). */
  hugeDims?: number;
  /** Port on 127.0.0.1. Default: a free one. Reusing a closed server's port simulates an outage and recovery. */
  port?: number;
}

export interface RecordedRequest {
  /** Path with query string, as sent. */
  path: string;
  method: string;
  range?: string;
  userAgent?: string;
}

export interface ImageServer {
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  url: string;
  /** Every request received, in arrival order. */
  requests: RecordedRequest[];
  close(): Promise<void>;
}

/** Number of redirects `redirect-chain` makes before answering with the image. */
export const REDIRECT_CHAIN_HOPS = 3;

/**
 * Starts a web server on 127.0.0.1 (random port) serving real images plus fault-injection routes,
 * for downloader tests: `/images/<name>`, `/files/<path>` (with Range), `/fault/<kind>/<name>`,
 * `/redirect-to/<url-encoded target>`.
 */
export async function startImageServer(params: ImageServerOptions = {}): Promise<ImageServer> {
  const root = path.resolve(params.root ?? fixturePath("images/originals"));
  const slowMs = params.slowMs ?? 10_000;
  const hugeDims = params.hugeDims ?? 30_000;
  const extraFiles = new Map<string, string>();
  for (const [name, file] of Object.entries(params.extraFiles ?? {})) {
    extraFiles.set(name.replace(/^\/+/, ""), path.resolve(file));
  }
  const requests: RecordedRequest[] = [];
  const seen = new Map<string, number>();
  const timers = new Set<NodeJS.Timeout>();

  const server = http.createServer((req, res) => {
    const rawPath = req.url ?? "/";
    const rec: RecordedRequest = { path: rawPath, method: req.method ?? "GET" };
    if (req.headers.range) rec.range = req.headers.range;
    if (req.headers["user-agent"]) rec.userAgent = req.headers["user-agent"];
    requests.push(rec);
    const url = new URL(rawPath, "http://localhost");
    let pathname: string;
    try {
      pathname = decodeURIComponent(url.pathname);
    } catch {
      sendText(res, 400, "bad path encoding\n");
      return;
    }
    const handle = async () => {
      if (pathname.startsWith("/images/")) return serveFrom(root, pathname.slice("/images/".length));
      if (pathname.startsWith("/files/")) {
        const rel = pathname.slice("/files/".length);
        const extra = extraFiles.get(rel);
        if (extra) return sendFile(req, res, extra);
        return serveFrom(fixturePath(), rel);
      }
      if (url.pathname.startsWith("/redirect-to/")) {
        // decode the raw path once so an encoded target URL survives intact
        const target = decodeURIComponent(url.pathname.slice("/redirect-to/".length));
        res.writeHead(302, { Location: target, "Content-Length": "0" });
        res.end();
        return;
      }
      const m = /^\/fault\/([^/]+)\/(.+)$/.exec(pathname);
      if (m) return fault(m[1]!, m[2]!);
      sendText(res, 404, "not found\n");
    };
    handle().catch((err: unknown) => {
      if (!res.headersSent) sendText(res, 500, `server error: ${String(err)}\n`);
      else res.destroy();
    });

    function serveFrom(dir: string, rel: string): void {
      const file = safeJoin(dir, rel);
      if (file) sendFile(req, res, file);
      else sendText(res, 403, "forbidden\n");
    }

    function imageFile(name: string): string | null {
      const file = safeJoin(root, name);
      return file && fs.existsSync(file) && fs.statSync(file).isFile() ? file : null;
    }

    /** Writes a raw HTTP/1.1 response straight to the socket, for responses node:http refuses to produce. */
    function rawResponse(head: string[], body: Buffer, after: "end" | "destroy"): void {
      const socket = req.socket;
      socket.write(`${head.join("\r\n")}\r\n\r\n`);
      if (req.method === "HEAD") return void socket.end();
      socket.write(body, () => (after === "end" ? socket.end() : socket.destroy()));
    }

    async function fault(kind: string, name: string): Promise<void> {
      const file = imageFile(name);
      const key = rawPath;
      const count = (seen.get(key) ?? 0) + 1;
      seen.set(key, count);
      const again = () => {
        if (!file) return sendText(res, 404, "not found\n");
        sendFile(req, res, file);
      };
      switch (kind as FaultKind) {
        case "404":
          return sendText(res, 404, "not found\n");
        case "500":
          return sendText(res, 500, "internal server error\n");
        case "503-then-ok":
          // per exact path+query: add a query string (?k=1) to get a fresh sequence in the same server
          if (count === 1) return sendText(res, 503, "service unavailable\n");
          return again();
        case "429-then-ok":
          if (count === 1) {
            res.writeHead(429, { "Retry-After": "0", "Content-Type": "text/plain", "Content-Length": "18" });
            res.end("too many requests\n");
            return;
          }
          return again();
        case "redirect-chain": {
          const hop = Number(url.searchParams.get("hop") ?? "0");
          const location =
            hop + 1 >= REDIRECT_CHAIN_HOPS
              ? `/images/${encodeURIComponent(name)}`
              : `/fault/redirect-chain/${encodeURIComponent(name)}?hop=${hop + 1}`;
          res.writeHead(302, { Location: location, "Content-Length": "0" });
          res.end();
          return;
        }
        case "redirect-loop": {
          // A → B → A → … : a real loop, not a self-redirect, so only a redirect limit stops it
          const next = url.searchParams.get("hop") === "b" ? "a" : "b";
          res.writeHead(302, {
            Location: `/fault/redirect-loop/${encodeURIComponent(name)}?hop=${next}`,
            "Content-Length": "0",
          });
          res.end();
          return;
        }
        case "wrong-content-type": {
          const html = `<!doctype html><html><head><title>Not an image</title></head><body><p>${name} has moved.</p></body></html>\n`;
          return sendText(res, 200, html, "text/html; charset=utf-8");
        }
        case "huge": {
          const png = await hugePng(hugeDims);
          res.writeHead(200, { "Content-Type": "image/png", "Content-Length": String(png.length) });
          res.end(req.method === "HEAD" ? undefined : png);
          return;
        }
        case "empty":
          res.writeHead(200, { "Content-Type": contentTypeFor(name), "Content-Length": "0" });
          res.end();
          return;
      }
      // the remaining faults need the real file's bytes
      if (!file) return sendText(res, 404, "not found\n");
      const type = contentTypeFor(file);
      switch (kind as FaultKind) {
        case "noai":
        case "noimageai":
        case "noindex":
          return sendFile(req, res, file, { "X-Robots-Tag": kind });
        case "corrupt": {
          const body = corruptJpeg(file);
          res.writeHead(200, { "Content-Type": type, "Content-Length": String(body.length) });
          res.end(req.method === "HEAD" ? undefined : body);
          return;
        }
        case "truncated": {
          // Content-Length announces the whole file; half is sent, then the connection is cut
          const body = fs.readFileSync(file);
          const half = body.subarray(0, Math.floor(body.length / 2));
          const head = ["HTTP/1.1 200 OK", `Content-Type: ${type}`, `Content-Length: ${body.length}`];
          return rawResponse(head, half, "destroy");
        }
        case "lying-content-length": {
          // declares 10 bytes, sends the whole file: a client that trusts the header reads a 10-byte "image"
          const body = fs.readFileSync(file);
          const head = [
            "HTTP/1.1 200 OK",
            `Content-Type: ${type}`,
            "Content-Length: 10",
            "Connection: close",
          ];
          return rawResponse(head, body, "destroy");
        }
        case "lying-content-length-big": {
          // declares twice the size, sends the whole file, then ends the connection
          const body = fs.readFileSync(file);
          const head = [
            "HTTP/1.1 200 OK",
            `Content-Type: ${type}`,
            `Content-Length: ${body.length * 2}`,
            "Connection: close",
          ];
          return rawResponse(head, body, "end");
        }
        case "slow": {
          const body = fs.readFileSync(file);
          const ms = Number(url.searchParams.get("ms") ?? slowMs);
          const pieces = 20;
          const step = Math.ceil(body.length / pieces);
          res.writeHead(200, { "Content-Type": type, "Content-Length": String(body.length) });
          if (req.method === "HEAD") return void res.end();
          let sent = 0;
          const tick = () => {
            if (res.destroyed) return;
            const next = Math.min(body.length, sent + step);
            res.write(body.subarray(sent, next));
            sent = next;
            if (sent >= body.length) return void res.end();
            const t = setTimeout(() => {
              timers.delete(t);
              tick();
            }, ms / pieces);
            timers.add(t);
          };
          tick();
          return;
        }
        default:
          return sendText(res, 400, `unknown fault kind "${kind}"; known: ${FAULT_KINDS.join(", ")}\n`);
      }
    }
  });

  const listening = await listen(server, params.port ?? 0);
  listening.onClose(() => {
    for (const t of timers) clearTimeout(t);
    timers.clear();
  });
  return { url: listening.url, requests, close: listening.close };
}

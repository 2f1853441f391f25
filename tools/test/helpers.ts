import http from "node:http";
import net from "node:net";

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** Every body byte received, even when the connection broke. */
  body: Buffer;
  /** Set when the response did not complete (connection cut, body shorter than announced…). */
  error?: Error;
}

/**
 * One request with node:http and no redirects, retries or decoding, so a test sees exactly what the
 * server sent — including the bytes before a connection is cut.
 */
export function rawRequest(url: string, init: { method?: string; headers?: Record<string, string> } = {}) {
  return new Promise<RawResponse>((resolve, reject) => {
    const req = http.request(
      url,
      { method: init.method ?? "GET", headers: init.headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        const done = (error?: Error) => {
          const out: RawResponse = {
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
          };
          if (error) out.error = error;
          resolve(out);
        };
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => (res.complete ? done() : done(new Error("response incomplete"))));
        res.on("error", (err) => done(err));
        res.on("aborted", () => done(new Error("aborted")));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

/** The raw bytes a server writes for a GET, read straight off a TCP socket until it closes. */
export function socketBytes(url: string): Promise<{ head: string; body: Buffer }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(u.port), u.hostname, () => {
      socket.write(`GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nConnection: close\r\n\r\n`);
    });
    const chunks: Buffer[] = [];
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("error", reject);
    socket.on("close", () => {
      const all = Buffer.concat(chunks);
      const split = all.indexOf("\r\n\r\n");
      resolve({ head: all.subarray(0, split).toString("latin1"), body: all.subarray(split + 4) });
    });
  });
}

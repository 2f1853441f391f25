// The image fetcher over https, against a local server with a self-signed certificate (fixtures/tls/,
// made once with openssl: see fixtures/README.md). The certificate is trusted only where a test passes it
// as `ca`; everywhere else it is what any unknown certificate is: refused, with a message saying so.
import fs from "node:fs";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { fixturePath } from "@laion/test-servers";
import { afterAll, beforeAll, expect, test } from "vitest";
import { createImageFetcher, type HttpParams } from "../../src/download/index.js";

const image = fs.readFileSync(fixturePath("images/originals/123_456.jpg"));
const cert = fs.readFileSync(fixturePath("tls/localhost-cert.pem"));
const key = fs.readFileSync(fixturePath("tls/localhost-key.pem"));
let secure: https.Server;
let plain: http.Server;
let httpsPort: number;
let httpBase: string;

beforeAll(async () => {
  secure = https.createServer({ cert, key }, (req, res) => {
    if (req.url === "/image.jpg") {
      res.writeHead(200, { "Content-Type": "image/jpeg", "Content-Length": image.length });
      return void res.end(image);
    }
    res.writeHead(404, { "Content-Length": "0" }).end();
  });
  // a plain-http page that sends its visitors to the https server, as many image hosts do
  plain = http.createServer((_req, res) => {
    res.writeHead(301, { Location: `https://localhost:${httpsPort}/image.jpg`, "Content-Length": "0" });
    res.end();
  });
  await new Promise<void>((resolve) => secure.listen(0, "127.0.0.1", resolve));
  await new Promise<void>((resolve) => plain.listen(0, "127.0.0.1", resolve));
  httpsPort = (secure.address() as AddressInfo).port;
  httpBase = `http://127.0.0.1:${(plain.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const server of [secure, plain]) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function fetchWith(params: HttpParams, url: string) {
  const fetcher = createImageFetcher({ retries: 0, ...params });
  try {
    return await fetcher.fetch(url);
  } finally {
    fetcher.close();
  }
}

test("an https image is fetched when its certificate is trusted, directly and after a redirect from http", async () => {
  const trusted = { allowPrivateAddresses: true, ca: cert };
  for (const url of [
    `https://localhost:${httpsPort}/image.jpg`,
    `https://127.0.0.1:${httpsPort}/image.jpg`,
    `${httpBase}/`,
  ]) {
    const result = await fetchWith(trusted, url);
    expect(result.ok && Buffer.compare(result.bytes, image), url).toBe(0);
  }
});

test("an untrusted certificate is refused with a message naming the reason, and not retried", async () => {
  let requests = 0;
  secure.on("request", () => requests++);
  const result = await fetchWith(
    { allowPrivateAddresses: true, retries: 2, retryBaseDelayMs: 1 },
    `${httpBase}/`,
  );
  expect(result).toEqual({ ok: false, error: "TLS certificate refused (DEPTH_ZERO_SELF_SIGNED_CERT)" });
  expect(requests).toBe(0); // refused in the handshake: no request reached the server
});

test("the private-address check runs on https connections too", async () => {
  // a host name, so the refusal comes from the https agent's lookup (IP literals are refused earlier)
  const result = await fetchWith({ ca: cert }, `https://localhost:${httpsPort}/image.jpg`);
  expect(result).toEqual({
    ok: false,
    error: "refused: destination is a private, loopback or link-local address",
  });
});

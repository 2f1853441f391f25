import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, expect, test } from "vitest";
import { s3Storage } from "../../src/download/storage.js";

// A web server where an S3 endpoint was expected: it answers every request with an HTML page.
let server: http.Server;
let endpoint = "";
beforeAll(async () => {
  server = http.createServer((_, res) =>
    res.writeHead(404, { "content-type": "text/html" }).end("<html>hi</html>"),
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => server.close());

const credentials = { accessKeyId: "test", secretAccessKey: "test" };

test("an output endpoint that is not S3 is named as such, with the flag to check", async () => {
  const expected = /the endpoint did not answer as S3 does \(HTTP 404, text\/html\): check --s3-endpoint/;
  await expect(s3Storage({ url: "s3://bucket/out", endpoint, credentials }).probe()).rejects.toThrow(
    expected,
  );
});

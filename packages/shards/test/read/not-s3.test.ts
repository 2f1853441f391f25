import { type Listening, serve } from "@laion/test-servers";
import { afterAll, beforeAll, expect, test } from "vitest";
import { s3Storage } from "../../src/download/storage.js";

// A web server where an S3 endpoint was expected: it answers every request with an HTML page.
let server: Listening;
let endpoint = "";
beforeAll(async () => {
  server = await serve((_, res) =>
    res.writeHead(404, { "content-type": "text/html" }).end("<html>hi</html>"),
  );
  endpoint = server.url;
});
afterAll(() => server.close());

const credentials = { accessKeyId: "test", secretAccessKey: "test" };

test("an output endpoint that is not S3 is named as such, with the flag to check", async () => {
  const expected = /the endpoint did not answer as S3 does \(HTTP 404, text\/html\): check --s3-endpoint/;
  await expect(s3Storage({ url: "s3://bucket/out", endpoint, credentials }).probe()).rejects.toThrow(
    expected,
  );
});

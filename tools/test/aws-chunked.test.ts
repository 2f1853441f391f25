import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { expect, test } from "vitest";
import { AwsChunkedDecoder, isAwsChunked } from "../src/aws-chunked.js";

function decode(wire: string, splitEvery: number) {
  const bytes = Buffer.from(wire, "latin1");
  const pieces: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += splitEvery) pieces.push(bytes.subarray(i, i + splitEvery));
  const decoder = new AwsChunkedDecoder();
  return { decoder, out: buffer(Readable.from(pieces).pipe(decoder)) };
}

test("unsigned chunks with a checksum trailer decode to the payload, however the input is split", async () => {
  const wire = "6\r\nhello \r\n5\r\nworld\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n";
  for (const split of [1, 2, 3, 7, 1000]) {
    const { decoder, out } = decode(wire, split);
    expect((await out).toString(), `split ${split}`).toBe("hello world");
    expect(decoder.trailers).toEqual({ "x-amz-checksum-crc32": "DUoRhQ==" });
  }
});

test("signed chunks (chunk-signature extensions) decode too", async () => {
  const sig = "a".repeat(64);
  const wire = `3;chunk-signature=${sig}\r\nabc\r\n0;chunk-signature=${sig}\r\n\r\n`;
  expect((await decode(wire, 5).out).toString()).toBe("abc");
});

test("a body cut before the last chunk is an error, not a short object", async () => {
  await expect(decode("6\r\nhello ", 4).out).rejects.toThrow(/ended early/);
  await expect(decode("zz\r\n", 4).out).rejects.toThrow(/bad chunk size/);
});

test("isAwsChunked looks at Content-Encoding and the streaming payload marker", () => {
  expect(isAwsChunked({ "content-encoding": "aws-chunked" })).toBe(true);
  expect(isAwsChunked({ "content-encoding": "gzip, aws-chunked" })).toBe(true);
  expect(isAwsChunked({ "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER" })).toBe(true);
  expect(isAwsChunked({ "content-encoding": "gzip", "x-amz-content-sha256": "UNSIGNED-PAYLOAD" })).toBe(
    false,
  );
});

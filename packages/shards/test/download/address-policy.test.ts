import { rmSync } from "node:fs";
import path from "node:path";
import { startImageServer } from "@laion/test-servers";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  AddressPolicy,
  checkUrl,
  downloadShards,
  isPrivateAddress,
  PRIVATE_ADDRESS_ERROR,
} from "../../src/download/index.js";
import { tempDir, writeParquet } from "./helpers.js";

describe("every spelling of a private address is refused", () => {
  test.each([
    ["::127.0.0.1", "IPv4-compatible, dotted"],
    ["::7f00:1", "IPv4-compatible, hex"],
    ["::ffff:127.0.0.1", "IPv4-mapped"],
    ["::ffff:0:7f00:1", "SIIT (RFC 6145)"],
    ["64:ff9b::a9fe:a9fe", "NAT64 of 169.254.169.254"],
    ["64:ff9b:1::808:808", "local-use NAT64 prefix, whatever it carries"],
    ["2002:7f00:1::", "6to4 of 127.0.0.1"],
    ["2002:a9fe:a9fe::1", "6to4 of 169.254.169.254"],
    ["2001:0:7f00:1::", "Teredo with a loopback server"],
    ["2001:0:4136:e378:8000:63bf:f5ff:fffe", "Teredo with client 10.0.0.1 (obfuscated)"],
    ["fd12:3456::1", "unique local"],
    ["fe80::1%eth0", "link-local with a zone"],
    ["ff02::1", "multicast"],
    ["::", "unspecified"],
    ["0.0.0.0", "unspecified IPv4"],
    ["255.255.255.255", "broadcast"],
    ["100.64.0.1", "carrier-grade NAT"],
    ["198.18.0.1", "benchmarking"],
    ["2001:db8::1", "documentation"],
    ["not-an-ip", "not an address at all"],
  ])("%s (%s)", (address) => {
    expect(isPrivateAddress(address)).toBe(true);
  });

  test.each([
    ["8.8.8.8"],
    ["2606:4700:4700::1111"],
    ["::ffff:8.8.8.8"],
    ["64:ff9b::808:808"],
    ["2002:808:808::1"],
    ["2001:0:4136:e378:8000:63bf:f7f7:f7f7"], // Teredo, server 65.54.227.120, client 8.8.8.8
  ])("%s is public", (address) => {
    expect(isPrivateAddress(address)).toBe(false);
  });

  test("URL spellings of 127.0.0.1 (decimal, hex, octal, short, bracketed IPv6) are all refused before any request", () => {
    const policy = new AddressPolicy();
    for (const url of [
      "http://2130706433/",
      "http://0x7f000001/",
      "http://0177.0.0.1/",
      "http://127.1/",
      "http://0x7f.1/",
      "http://[::127.0.0.1]/",
      "http://[::ffff:7f00:1]/",
      "http://[2002:7f00:1::]/",
    ]) {
      expect(() => checkUrl(url, policy), url).toThrow(PRIVATE_ADDRESS_ERROR);
    }
  });
});

describe("--allow-address is granular", () => {
  test("a loopback CIDR allows loopback in every spelling, and nothing else", () => {
    const policy = new AddressPolicy({ allowAddresses: ["127.0.0.0/8"] });
    expect(policy.allows("127.0.0.1")).toBe(true);
    expect(policy.allows("::ffff:127.0.0.2")).toBe(true);
    expect(policy.allows("10.0.0.1")).toBe(false);
    expect(policy.allows("::1")).toBe(false);
    expect(policy.allows("169.254.169.254")).toBe(false);
    expect(policy.allows("8.8.8.8")).toBe(true);
  });

  test("link-local (cloud metadata) is allowed only when named, never by a wide range", () => {
    expect(new AddressPolicy({ allowAddresses: ["0.0.0.0/0"] }).allows("169.254.169.254")).toBe(false);
    expect(new AddressPolicy({ allowAddresses: ["0.0.0.0/0"] }).allows("10.1.2.3")).toBe(true);
    expect(new AddressPolicy({ allowAddresses: ["::/0"] }).allows("fe80::1")).toBe(false);
    expect(new AddressPolicy({ allowAddresses: ["169.254.169.254"] }).allows("169.254.169.254")).toBe(true);
    expect(new AddressPolicy({ allowAddresses: ["169.254.169.254"] }).allows("169.254.169.253")).toBe(false);
  });

  test("host names are matched exactly; a bad entry names the flag", () => {
    const policy = new AddressPolicy({ allowAddresses: ["Minio.Internal"] });
    expect(policy.allowsHost("minio.internal")).toBe(true);
    expect(policy.allowsHost("evil.minio.internal")).toBe(false);
    expect(() => new AddressPolicy({ allowAddresses: ["10.0.0.0/33"] })).toThrow(
      '--allow-address "10.0.0.0/33" is not an IP address, a CIDR range (10.0.0.0/8) or a host name',
    );
  });
});

describe("downloads through the policy", () => {
  let server: Awaited<ReturnType<typeof startImageServer>>;
  let dir = "";
  beforeAll(async () => {
    server = await startImageServer();
    dir = tempDir("address-policy-");
  });
  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("allowing 127.0.0.1 downloads from the local server but refuses a redirect to 169.254.169.254", async () => {
    const metadata = encodeURIComponent("http://169.254.169.254/latest/meta-data/");
    const urls = [`${server.url}/images/123_456.jpg`, `${server.url}/redirect-to/${metadata}`];
    const file = writeParquet(path.join(dir, "scoped.parquet"), {
      URL: { data: urls, type: "STRING" },
      TEXT: { data: ["a", "b"], type: "STRING" },
    });
    const stats = await downloadShards({
      input: file,
      output: path.join(dir, "scoped"),
      allowAddresses: ["127.0.0.1"],
      retries: 0,
      timeoutMs: 30_000, // a real image must not time out on a loaded machine
    });
    expect(stats.successes).toBe(1);
    expect(stats.status_dict).toEqual({ success: 1, [PRIVATE_ADDRESS_ERROR]: 1 });
  });
});

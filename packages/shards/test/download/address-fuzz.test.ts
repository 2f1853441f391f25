// Seeded fuzzing of the address policy: random IPv4 addresses in every URL spelling and every IPv6 form
// that carries them, and random redirect chains on the local server that end on a private address.
// Properties: a non-public address is refused in every spelling, all spellings of one address get the
// same verdict, and no redirect chain reaches a private destination that was not allowed.
import net from "node:net";
import { FUZZ_SEED, fuzzRuns, startImageServer } from "@laion/test-servers";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  AddressPolicy,
  checkUrl,
  createImageFetcher,
  PRIVATE_ADDRESS_ERROR,
} from "../../src/download/index.js";

// address checks are cheap: more cases than the reader suites
const RUNS = fuzzRuns(200);

// An independent oracle for the ranges that matter most (RFC 1918, loopback, link-local, CGNAT,
// "this network", multicast, reserved): written from the RFCs, not from the code under test.
const MUST_REFUSE = new net.BlockList();
for (const [a, p] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.168.0.0", 16],
  ["224.0.0.0", 4],
  ["240.0.0.0", 4],
] as const)
  MUST_REFUSE.addSubnet(a, p, "ipv4");

const octets = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
const hex16 = (hi: number, lo: number) => `${((hi << 8) | lo).toString(16)}`;

/** Spellings of one IPv4 address as a URL host: the WHATWG parser must bring them all to one address. */
function spellings(n: number): string[] {
  const [a, b, c, d] = octets(n) as [number, number, number, number];
  const v6 = (prefix: string) => `[${prefix}${hex16(a, b)}:${hex16(c, d)}]`;
  const teredoClient = octets(~n >>> 0) as [number, number, number, number];
  return [
    `${a}.${b}.${c}.${d}`,
    String(n), // one decimal number
    `0x${n.toString(16)}`, // one hex number
    [a, b, c, d].map((x) => `0${x.toString(8)}`).join("."), // octal octets
    `${a}.${(b << 16) | (c << 8) | d}`, // short form a.b
    `${a}.${b}.${(c << 8) | d}`, // short form a.b.c
    v6("::ffff:"), // IPv4-mapped
    v6("::"), // IPv4-compatible
    v6("64:ff9b::"), // NAT64
    `[2002:${hex16(a, b)}:${hex16(c, d)}::1]`, // 6to4
    // Teredo with a public server and this address as the (obfuscated) client
    `[2001:0:4136:e378:8000:63bf:${hex16(teredoClient[0], teredoClient[1])}:${hex16(teredoClient[2], teredoClient[3])}]`,
  ];
}

const verdict = (policy: AddressPolicy, host: string) => {
  try {
    checkUrl(`http://${host}/x.jpg`, policy);
    return "allowed";
  } catch (error) {
    expect((error as Error).message).toBe(PRIVATE_ADDRESS_ERROR);
    return "refused";
  }
};

// Addresses drawn both uniformly and from inside the ranges that must be refused.
const address = fc.oneof(
  fc.nat({ max: 2 ** 32 - 1 }),
  fc
    .constantFrom(0x0a000000, 0x7f000000, 0xa9fe0000, 0xac100000, 0xc0a80000, 0x64400000)
    .chain((base) => fc.nat({ max: 0xffff }).map((low) => (base | low) >>> 0)),
);

describe("every spelling gets the same verdict", () => {
  test("a non-public IPv4 address is refused in every spelling; all spellings agree", () => {
    const policy = new AddressPolicy();
    fc.assert(
      fc.property(address, (n) => {
        const dotted = octets(n).join(".");
        const verdicts = spellings(n).map((host) => [host, verdict(policy, host)] as const);
        if (MUST_REFUSE.check(dotted, "ipv4"))
          for (const [host, v] of verdicts) expect(v, `${host} (= ${dotted})`).toBe("refused");
        const first = verdicts[0]![1];
        for (const [host, v] of verdicts) expect(v, `${host} (= ${dotted})`).toBe(first);
      }),
      { seed: FUZZ_SEED, numRuns: RUNS },
    );
  });

  test("random URLs never make the check throw anything but a refusal or a URL error", () => {
    const policy = new AddressPolicy({ allowAddresses: ["127.0.0.1"] });
    fc.assert(
      fc.property(
        fc.oneof(
          fc.webUrl(),
          fc.string(),
          fc.ipV6().map((ip) => `http://[${ip}]/`),
        ),
        (url) => {
          try {
            checkUrl(url, policy);
          } catch (error) {
            expect((error as Error).constructor.name).toBe("AttemptError");
          }
        },
      ),
      { seed: FUZZ_SEED, numRuns: RUNS },
    );
  });
});

describe("redirect chains", () => {
  let server: Awaited<ReturnType<typeof startImageServer>>;
  beforeAll(async () => {
    server = await startImageServer();
  });
  afterAll(() => server.close());

  test("a chain of allowed hops that ends on another loopback or private address is refused, never fetched", async () => {
    const port = new URL(server.url).port;
    const fetcher = createImageFetcher({ allowAddresses: ["127.0.0.1"], retries: 0, timeoutMs: 3000 });
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 0, max: 4 }),
          // 127.0.0.2–255 answer on this machine: were the guard bypassed, the fetch would succeed
          fc.oneof(
            fc.integer({ min: 2, max: 255 }).map((d) => (0x7f000000 | d) >>> 0),
            fc.nat({ max: 0xffff }).map((low) => (0xa9fe0000 | low) >>> 0),
          ),
          fc.nat({ max: 10 }),
          async (hops, target, spelling) => {
            const host = spellings(target)[spelling]!;
            let url = `http://${host}:${port}/images/123_456.jpg`;
            for (let i = 0; i < hops; i++) url = `${server.url}/redirect-to/${encodeURIComponent(url)}`;
            const result = await fetcher.fetch(url);
            expect(result, `${hops} hops to ${host}`).toEqual({ ok: false, error: PRIVATE_ADDRESS_ERROR });
          },
        ),
        { seed: FUZZ_SEED, numRuns: Math.min(RUNS, 40) },
      );
    } finally {
      fetcher.close();
    }
  });
});

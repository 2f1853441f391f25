import dns from "node:dns";
import net from "node:net";

/**
 * Refusing private destinations: a downloader fed URLs from the web must not be turned against the machine
 * it runs on or its network (cloud metadata at 169.254.169.254, admin panels on 10.x …). The check is on
 * the address a name resolves to, on every connection (so on every redirect hop), not on the URL text.
 */
const BLOCKED = new net.BlockList();
for (const [net4, prefix] of [
  ["0.0.0.0", 8], // "this network"
  ["10.0.0.0", 8], // private
  ["100.64.0.0", 10], // carrier-grade NAT
  ["127.0.0.0", 8], // loopback
  ["169.254.0.0", 16], // link-local (cloud metadata)
  ["172.16.0.0", 12], // private
  ["192.0.0.0", 24], // IETF protocol assignments
  ["192.0.2.0", 24], // documentation
  ["192.168.0.0", 16], // private
  ["198.18.0.0", 15], // benchmarking
  ["198.51.100.0", 24], // documentation
  ["203.0.113.0", 24], // documentation
  ["224.0.0.0", 4], // multicast
  ["240.0.0.0", 4], // reserved, broadcast
] as const) {
  BLOCKED.addSubnet(net4, prefix, "ipv4");
}
for (const [net6, prefix] of [
  ["::", 128], // unspecified
  ["::1", 128], // loopback
  ["fc00::", 7], // unique local
  ["fe80::", 10], // link-local
  ["ff00::", 8], // multicast
  ["2001:db8::", 32], // documentation
] as const) {
  BLOCKED.addSubnet(net6, prefix, "ipv6");
}

/** IPv4 embedded in an IPv6 address (::ffff:a.b.c.d mapped, 64:ff9b::/96 NAT64), else null. */
function embeddedIpv4(address: string): string | null {
  const m = /^(?:::ffff:|64:ff9b::)(?:0:)?(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (m) return m[1]!;
  const hex = /^(?:::ffff:|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(address);
  if (hex) {
    const hi = Number.parseInt(hex[1]!, 16);
    const lo = Number.parseInt(hex[2]!, 16);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return null;
}

/** True for loopback, private, link-local, multicast, reserved and other non-public addresses. */
export function isPrivateAddress(address: string): boolean {
  const family = net.isIP(address);
  if (family === 4) return BLOCKED.check(address, "ipv4");
  if (family === 6) {
    const v4 = embeddedIpv4(address);
    if (v4) return BLOCKED.check(v4, "ipv4");
    return BLOCKED.check(address, "ipv6");
  }
  return true; // not an IP address at all: refuse rather than guess
}

export const PRIVATE_ADDRESS_ERROR = "refused: destination is a private, loopback or link-local address";

/** The error of a refused destination; got wraps lookup errors, so the code travels with it. */
export class PrivateAddressError extends Error {
  readonly code = "ERR_PRIVATE_ADDRESS";
  constructor() {
    super(PRIVATE_ADDRESS_ERROR);
  }
}

/** The URL's host when it is an IP literal (Node connects to those without a DNS lookup), else null. */
export function ipLiteralHost(url: URL): string | null {
  const host = url.hostname.replace(/^\[|\]$/g, "");
  return net.isIP(host) ? host : null;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address?: unknown, family?: number) => void;

/**
 * A drop-in `lookup` for http(s) agents that resolves normally and fails when any resolved address is
 * private (any, not all: a name that answers both is how DNS rebinding gets in).
 */
export function safeLookup(hostname: string, options: unknown, callback?: unknown): void {
  const cb = (typeof options === "function" ? options : callback) as LookupCallback;
  const opts = (typeof options === "object" && options !== null ? options : {}) as dns.LookupOptions;
  dns.lookup(hostname, { ...opts, all: true }, (err, addresses) => {
    if (err) return cb(err);
    if (addresses.length === 0 || addresses.some((a) => isPrivateAddress(a.address)))
      return cb(new PrivateAddressError());
    if (opts.all) return cb(null, addresses);
    const first = addresses[0]!;
    cb(null, first.address, first.family);
  });
}

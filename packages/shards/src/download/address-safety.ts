import dns from "node:dns";
import net from "node:net";
import ipaddr from "ipaddr.js";

/**
 * Refusing private destinations: a downloader fed URLs from the web must not be turned against the machine
 * it runs on or its network (cloud metadata at 169.254.169.254, admin panels on 10.x …). The check is on
 * the address a name resolves to, on every connection (so on every redirect hop), not on the URL text.
 * Ranges come from ipaddr.js (maintained IANA special-purpose tables), not from a table of our own; only
 * what ipaddr.js calls plain "unicast" is public, and IPv6 forms that carry an IPv4 address are judged by
 * that address.
 */

type Address = ipaddr.IPv4 | ipaddr.IPv6;

/** IPv6 ranges whose address carries an IPv4 destination, and where to find it in the eight 16-bit parts. */
const EMBEDDING: Record<string, (parts: number[]) => [number, number][]> = {
  ipv4Mapped: (p) => [[p[6]!, p[7]!]], // ::ffff:a.b.c.d
  rfc6145: (p) => [[p[6]!, p[7]!]], // ::ffff:0:a.b.c.d (SIIT)
  rfc6052: (p) => [[p[6]!, p[7]!]], // 64:ff9b::a.b.c.d (NAT64; 64:ff9b:1::/48 is refused whole)
  "6to4": (p) => [[p[1]!, p[2]!]], // 2002:AABB:CCDD::
  // Teredo: the server's address in clear, the client's obfuscated (every bit flipped)
  teredo: (p) => [
    [p[2]!, p[3]!],
    [~p[6]! & 0xffff, ~p[7]! & 0xffff],
  ],
};

function ipv4FromParts([hi, lo]: [number, number]): ipaddr.IPv4 {
  return new ipaddr.IPv4([hi >> 8, hi & 255, lo >> 8, lo & 255]);
}

/** The IPv4 addresses an IPv6 address leads to (mapped, SIIT, NAT64, 6to4, Teredo, IPv4-compatible). */
function embeddedIpv4(address: ipaddr.IPv6): ipaddr.IPv4[] {
  const range = address.range();
  const take = EMBEDDING[range];
  if (take) return take(address.parts).map(ipv4FromParts);
  // IPv4-compatible (::a.b.c.d, deprecated by RFC 4291 but still routed by some stacks): ipaddr.js files
  // it under "unicast", so it is recognised by its 96 zero bits.
  const p = address.parts;
  if (range === "unicast" && p.slice(0, 6).every((x) => x === 0)) return [ipv4FromParts([p[6]!, p[7]!])];
  return [];
}

/** Why `address` is not a public destination, or null when it is. */
function nonPublicReason(address: Address): string | null {
  if (address.kind() === "ipv6") {
    const v6 = address as ipaddr.IPv6;
    // RFC 8215's local-use NAT64 prefix places the IPv4 address where the operator chose: refuse it whole.
    if (v6.range() === "rfc6052" && v6.parts.slice(2, 6).some((x) => x !== 0))
      return "local-use NAT64 prefix 64:ff9b:1::/48";
    const embedded = embeddedIpv4(v6);
    if (embedded.length > 0) {
      for (const v4 of embedded) {
        const why = nonPublicReason(v4);
        if (why) return `${v6.range()} address carrying ${v4.toString()} (${why})`;
      }
      return null;
    }
  }
  const range = address.range();
  return range === "unicast" ? null : range;
}

function parseAddress(text: string): Address | null {
  const bare = text.replace(/^\[|\]$/g, "").replace(/%.*$/, ""); // brackets of URL hosts, zone ids
  return ipaddr.isValid(bare) ? ipaddr.parse(bare) : null;
}

/** True for loopback, private, link-local, multicast, reserved and other non-public addresses, and non-IPs. */
export function isPrivateAddress(address: string): boolean {
  const parsed = parseAddress(address);
  return parsed === null || nonPublicReason(parsed) !== null;
}

export const PRIVATE_ADDRESS_ERROR = "refused: destination is a private, loopback or link-local address";

/** The error of a refused destination, raised by the lookup; its code travels with it through node:http. */
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

export interface AddressPolicyParams {
  /** Allow every destination (local servers, tests); the CLI says so on stderr. Default false. */
  allowPrivateAddresses?: boolean;
  /**
   * Destinations allowed although not public: IP addresses, CIDR ranges (`127.0.0.0/8`, `fd00::/8`) or
   * host names (matched exactly, case-insensitive). Link-local addresses (169.254.0.0/16 — cloud metadata
   * — and fe80::/10) are only allowed by an entry that lies inside link-local space itself, never by a wide
   * range such as 0.0.0.0/0.
   */
  allowAddresses?: readonly string[];
}

const LINK_LOCAL = [ipaddr.parseCIDR("169.254.0.0/16"), ipaddr.parseCIDR("fe80::/10")] as const;

function inRange(address: Address, [net, bits]: [Address, number]): boolean {
  return address.kind() === net.kind() && address.match(net, bits);
}

const isLinkLocal = (address: Address) => LINK_LOCAL.some((r) => inRange(address, r));

/** Which destinations the downloader may connect to: public addresses, plus what the user allowed. */
export class AddressPolicy {
  readonly allowAll: boolean;
  private readonly hosts = new Set<string>();
  private readonly ranges: [Address, number][] = [];

  constructor(params: AddressPolicyParams = {}) {
    this.allowAll = params.allowPrivateAddresses ?? false;
    for (const entry of params.allowAddresses ?? []) {
      const text = entry.trim();
      if (ipaddr.isValidCIDR(text)) this.ranges.push(ipaddr.parseCIDR(text));
      else if (ipaddr.isValid(text)) {
        const address = ipaddr.parse(text);
        this.ranges.push([address, address.kind() === "ipv4" ? 32 : 128]);
      } else if (/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?$/i.test(text))
        this.hosts.add(text.toLowerCase().replace(/\.$/, ""));
      else
        throw new Error(
          `--allow-address ${JSON.stringify(entry)} is not an IP address, a CIDR range (10.0.0.0/8) or a host name`,
        );
    }
  }

  /** True when the user named this host (requests to it skip the address check). */
  allowsHost(hostname: string): boolean {
    return (
      this.allowAll ||
      this.hosts.has(
        hostname
          .toLowerCase()
          .replace(/^\[|\]$/g, "")
          .replace(/\.$/, ""),
      )
    );
  }

  /** True when a connection to `address` (an IP) is allowed. */
  allows(address: string): boolean {
    if (this.allowAll) return true;
    const parsed = parseAddress(address);
    if (parsed === null) return false; // not an IP address at all: refuse rather than guess
    if (nonPublicReason(parsed) === null) return true;
    if (this.named(parsed)) return true;
    // An IPv6 form carrying IPv4 addresses goes where they are: each must be public or allowed.
    const embedded = parsed.kind() === "ipv6" ? embeddedIpv4(parsed as ipaddr.IPv6) : [];
    return embedded.length > 0 && embedded.every((v4) => nonPublicReason(v4) === null || this.named(v4));
  }

  /** In an allowed range; link-local only when the allowing entry is link-local itself. */
  private named(address: Address): boolean {
    return this.ranges.some((r) => inRange(address, r) && (!isLinkLocal(address) || isLinkLocal(r[0])));
  }

  /**
   * A drop-in `lookup` for http(s) agents that resolves normally and fails when any resolved address is
   * refused (any, not all: a name that answers both is how DNS rebinding gets in).
   */
  readonly lookup = (hostname: string, options: unknown, callback?: unknown): void => {
    const cb = (typeof options === "function" ? options : callback) as LookupCallback;
    const opts = (typeof options === "object" && options !== null ? options : {}) as dns.LookupOptions;
    const hostAllowed = this.allowsHost(hostname);
    dns.lookup(hostname, { ...opts, all: true }, (err, addresses) => {
      if (err) return cb(err);
      if (addresses.length === 0 || (!hostAllowed && addresses.some((a) => !this.allows(a.address))))
        return cb(new PrivateAddressError());
      if (opts.all) return cb(null, addresses);
      const first = addresses[0]!;
      cb(null, first.address, first.family);
    });
  };
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address?: unknown, family?: number) => void;

const DEFAULT_POLICY = new AddressPolicy();

/** The lookup of the default policy: public destinations only. */
export function safeLookup(hostname: string, options: unknown, callback?: unknown): void {
  DEFAULT_POLICY.lookup(hostname, options, callback);
}

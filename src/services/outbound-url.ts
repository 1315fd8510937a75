// Outgoing URLs that admins define (webhooks; later gates and chart
// sources, docs/api.md §6): http or https, no credentials in the URL, and
// with OUTBOUND_DENY_PRIVATE nothing on loopback, private, link-local or
// otherwise internal addresses. An IP literal is checked when the URL is
// given; a host name when it is resolved, at every connection (the lookup
// below), so a name that later resolves inward is refused then.
import { lookup as dnsLookup, type LookupAddress, type LookupOneOptions, type LookupAllOptions } from "node:dns";
import { BlockList, isIP } from "node:net";

const INTERNAL = new BlockList();
for (const [net, prefix] of [
  ["0.0.0.0", 8], ["10.0.0.0", 8], ["100.64.0.0", 10], ["127.0.0.0", 8], ["169.254.0.0", 16], ["172.16.0.0", 12],
  ["192.0.0.0", 24], ["192.168.0.0", 16], ["198.18.0.0", 15], ["224.0.0.0", 4], ["240.0.0.0", 4],
] as const) INTERNAL.addSubnet(net, prefix, "ipv4");
// 64:ff9b:1::/48: NAT64 for local use (RFC 8215), whatever it maps to.
for (const [net, prefix] of [["::", 128], ["::1", 128], ["64:ff9b:1::", 48], ["fc00::", 7], ["fe80::", 10], ["ff00::", 8]] as const) INTERNAL.addSubnet(net, prefix, "ipv6");

/** The 8 groups of an IPv6 address (a trailing dotted IPv4 as two), or undefined if it is not one. */
function ipv6Groups(ip: string): number[] | undefined {
  if (isIP(ip) !== 6) return undefined;
  let text = ip.replace(/%.*$/, "");
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split("::") as [string, string | undefined];
  const part = (s: string | undefined) => (s ? s.split(":").map((g) => parseInt(g, 16)) : []);
  const left = part(head);
  const right = part(tail);
  return tail === undefined ? left : [...left, ...Array<number>(8 - left.length - right.length).fill(0), ...right];
}

const v4 = (hi: number, lo: number) => `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;

/**
 * The IPv4 address an IPv6 one carries, where it reaches that IPv4 host:
 * IPv4-mapped ::ffff:a.b.c.d, IPv4-compatible ::a.b.c.d (the URL parser
 * writes [::127.0.0.1] as [::7f00:1]), NAT64 64:ff9b::a.b.c.d (RFC 6052)
 * and 6to4 2002:AABB:CCDD::/48 (RFC 3056).
 */
function embeddedIpv4(ip: string): string | undefined {
  const g = ipv6Groups(ip);
  if (!g) return undefined;
  const zeros = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  if (zeros(0, 5) && (g[5] === 0xffff || g[5] === 0)) return v4(g[6]!, g[7]!);
  if (g[0] === 0x64 && g[1] === 0xff9b && zeros(2, 6)) return v4(g[6]!, g[7]!);
  if (g[0] === 0x2002) return v4(g[1]!, g[2]!);
  return undefined;
}

/**
 * Whether an IP address is loopback, private, link-local, CGNAT, multicast
 * or unspecified; an IPv6 address that carries an IPv4 one (embeddedIpv4)
 * as that IPv4 address.
 */
export function isInternalAddress(ip: string): boolean {
  const bare = ip.replace(/^\[|\]$/g, "");
  const family = isIP(bare);
  if (family === 0) return false;
  if (family === 4) return INTERNAL.check(bare, "ipv4");
  const inner = embeddedIpv4(bare);
  if (inner !== undefined && INTERNAL.check(inner, "ipv4")) return true;
  return INTERNAL.check(bare, "ipv6");
}

/** Why `text` is not a URL Chartroom may call, or undefined. */
export function outboundUrlProblem(text: string, denyPrivate: boolean): string | undefined {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    return "must be an absolute http:// or https:// URL";
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") return `must be an http:// or https:// URL (got ${u.protocol.slice(0, -1)})`;
  if (u.username || u.password) return "must not contain credentials (user:password@); authenticate the receiver by the signature instead";
  if (denyPrivate && isInternalAddress(u.hostname)) return `${u.hostname} is a loopback, private or link-local address, refused with OUTBOUND_DENY_PRIVATE=true`;
  return undefined;
}

/** The error of a connection refused by the address rule. */
export class InternalAddressError extends Error {
  constructor(host: string, address: string) {
    super(`${host} resolves to ${address}, a loopback, private or link-local address (OUTBOUND_DENY_PRIVATE=true)`);
    this.name = "InternalAddressError";
  }
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * dns.lookup for http.request's `lookup` option that refuses internal
 * addresses: the check is on the address the socket then connects to,
 * so a DNS answer cannot change between the check and the connection.
 */
export function guardedLookup(hostname: string, options: LookupOneOptions | LookupAllOptions, callback: LookupCallback): void {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, "", 4);
    const list = addresses as LookupAddress[];
    const bad = list.find((a) => isInternalAddress(a.address));
    if (bad) return callback(new InternalAddressError(hostname, bad.address), "", 4);
    if ((options as LookupAllOptions).all) return callback(null, list);
    const first = list[0];
    if (!first) return callback(Object.assign(new Error(`${hostname}: no address`), { code: "ENOTFOUND" }), "", 4);
    callback(null, first.address, first.family);
  });
}

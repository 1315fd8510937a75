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
for (const [net, prefix] of [["::", 128], ["::1", 128], ["fc00::", 7], ["fe80::", 10], ["ff00::", 8]] as const) INTERNAL.addSubnet(net, prefix, "ipv6");

/** Whether an IP address is loopback, private, link-local, CGNAT, multicast or unspecified (IPv4-mapped IPv6 as its IPv4). */
export function isInternalAddress(ip: string): boolean {
  const bare = ip.replace(/^\[|\]$/g, "");
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare);
  if (mapped) return INTERNAL.check(mapped[1]!, "ipv4");
  const family = isIP(bare);
  if (family === 0) return false;
  return INTERNAL.check(bare, family === 4 ? "ipv4" : "ipv6");
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

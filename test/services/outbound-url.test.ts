// Outgoing URLs (src/services/outbound-url.ts): schemes, credentials, internal addresses.
import t from "tap";
import { guardedLookup, isInternalAddress, outboundUrlProblem } from "../../src/services/outbound-url.js";

t.test("internal addresses", async (t) => {
  const rows: [string, boolean][] = [
    ["127.0.0.1", true], ["127.8.9.10", true], ["10.0.0.1", true], ["172.16.0.1", true], ["172.31.255.255", true], ["172.32.0.1", false],
    ["192.168.0.1", true], ["169.254.169.254", true], ["100.64.0.1", true], ["0.0.0.0", true], ["224.0.0.1", true],
    ["8.8.8.8", false], ["93.184.216.34", false], ["::1", true], ["[::1]", true], ["::", true], ["fd00::1", true], ["fe80::1", true],
    ["::ffff:127.0.0.1", true], ["::ffff:8.8.8.8", false], ["2606:4700::1111", false], ["example.com", false],
    // IPv6 that carries an IPv4 address: mapped, compatible, NAT64 (RFC 6052, 8215), 6to4; as the URL parser writes them too.
    ["[::ffff:7f00:1]", true], ["::127.0.0.1", true], ["[::7f00:1]", true], ["::a00:1", true], ["::808:808", false],
    ["64:ff9b::127.0.0.1", true], ["64:ff9b::7f00:1", true], ["64:ff9b::a9fe:a9fe", true], ["64:ff9b::10.1.2.3", true],
    ["64:ff9b::8.8.8.8", false], ["64:ff9b:1::8.8.8.8", true], ["2002:7f00:1::1", true], ["2002:c0a8:101::", true],
    ["2002:808:808::1", false], ["0:0:0:0:0:ffff:169.254.169.254", true],
  ];
  for (const [ip, internal] of rows) t.equal(isInternalAddress(ip), internal, `${ip}: ${internal ? "internal" : "public"}`);
});

t.test("URL problems", async (t) => {
  const rows: [string, boolean, RegExp | undefined][] = [
    ["https://hooks.example.com/x?y=1", true, undefined],
    ["http://10.0.0.1/x", false, undefined],
    ["http://10.0.0.1/x", true, /OUTBOUND_DENY_PRIVATE/],
    ["http://localhost/x", true, undefined],
    ["http://[::127.0.0.1]/x", true, /OUTBOUND_DENY_PRIVATE/],
    ["http://[::ffff:127.0.0.1]/x", true, /OUTBOUND_DENY_PRIVATE/],
    ["http://[64:ff9b::169.254.169.254]/latest", true, /OUTBOUND_DENY_PRIVATE/],
    ["http://[64:ff9b::8.8.8.8]/x", true, undefined],
    ["ftp://hooks.example.com/", false, /http:\/\/ or https:\/\/ URL \(got ftp\)/],
    ["file:///etc/passwd", false, /got file/],
    ["https://u:p@hooks.example.com/", false, /credentials/],
    ["https://u@hooks.example.com/", false, /credentials/],
    ["not a url", false, /absolute/],
  ];
  for (const [url, deny, problem] of rows) {
    const got = outboundUrlProblem(url, deny);
    if (problem) t.match(got, problem, `${url} (deny ${deny})`);
    else t.equal(got, undefined, `${url} (deny ${deny}) is fine`);
  }
});

t.test("the guarded lookup refuses a name that resolves inward", async (t) => {
  const err = await new Promise<Error | null>((resolve) => guardedLookup("localhost", {}, (e) => resolve(e)));
  t.match(err?.message, /localhost resolves to .* loopback, private or link-local/);
});

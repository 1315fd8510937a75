// Worker thread of bench/lib.mjs signLicenses(): signs licenses [start, end)
// with the server's own signing key through Chartroom's compiled issuer
// (dist/licensing/issue-license.js), and posts them back as one string.
import { workerData, parentPort } from "node:worker_threads";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const { keyFile, start, end, exp, prefix, salt, root, sub, channel = "stable" } = workerData;
const { loadSigningKey } = await import(pathToFileURL(join(root, "dist/licensing/license-keys.js")).href);
const { signLicense } = await import(pathToFileURL(join(root, "dist/licensing/issue-license.js")).href);

const key = loadSigningKey(keyFile);
const iat = Math.floor(Date.now() / 1000);
const out = new Array(end - start);
for (let i = start; i < end; i++) {
  out[i - start] = signLicense(key, { sub: sub ?? `${prefix}-${i}`, channel, jti: `${prefix}-${i}-${salt}`, exp, iat });
}
parentPort.postMessage(out.join("\n"));

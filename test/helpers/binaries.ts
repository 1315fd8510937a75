// Machine programs the tests start themselves (Prometheus, docker-registry):
// where each is, and a subtest that runs with it, or skips loudly without
// it (and fails under CI, where .ci/run installs them); and a free port.
import { accessSync, constants } from "node:fs";
import { createServer as createNetServer, type AddressInfo } from "node:net";
import { delimiter, join } from "node:path";
import type { Test } from "tap";

export interface Binary {
  /** The file name on PATH. */
  file: string;
  /** The variable that names it instead. */
  env: string;
  /** What the test needs it for, in the CI failure ("Prometheus", "the OCI registry"). */
  what: string;
  /** The Debian package that has it. */
  apt: string;
}

/** The binary's path, or null. */
export function findBinary(b: Binary): string | null {
  const named = process.env[b.env];
  const candidates = named ? [named] : (process.env.PATH ?? "").split(delimiter).map((d) => join(d, b.file));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // next
    }
  }
  return null;
}

/** Runs `fn` as subtest `name` with the binary, or skips loudly (fails under CI) without it. */
export async function withBinary(t: Test, b: Binary, name: string, fn: (t: Test, bin: string) => Promise<void>): Promise<void> {
  const bin = findBinary(b);
  if (!bin) {
    const why = `no ${b.file} binary (set ${b.env} or apt-get install ${b.apt})`;
    if (process.env.CI) {
      t.fail(`${b.what} is required in CI: ${why}`);
      return;
    }
    process.stderr.write(`\n*** skipped: ${why} — "${name}" did not run ***\n\n`);
    await t.test(name, { skip: `skipped: ${why}` }, async () => {});
    return;
  }
  await t.test(name, (tt) => fn(tt, bin));
}

/** A port free on 127.0.0.1 now. */
export async function freePort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

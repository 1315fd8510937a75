#!/usr/bin/env node
// Summarises a V8 .cpuprofile (node --cpu-prof): the top frames by self time,
// self time by package, and the top frames by inclusive (total) time.
// usage: node bench/cpuprofile-top.mjs <file.cpuprofile> [top=25] [--json] [--from=<µs> --to=<µs>]
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** Which package (or part of Node / Chartroom) a frame's url belongs to. */
export function packageOf(url, functionName) {
  if (!url) return /^\(.*\)$/.test(functionName) ? functionName : "(native / V8 builtins)";
  if (url.startsWith("node:")) return "node: (Node.js internals)";
  const nm = url.lastIndexOf("/node_modules/");
  if (nm !== -1) {
    const rest = url.slice(nm + "/node_modules/".length).split("/");
    return rest[0].startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  const dist = url.indexOf("/dist/");
  if (dist !== -1) return "chartroom (dist/)";
  return url.replace(/^file:\/\//, "");
}

function shortUrl(url) {
  if (!url) return "";
  const nm = url.lastIndexOf("/node_modules/");
  if (nm !== -1) return url.slice(nm + "/node_modules/".length);
  const dist = url.indexOf("/dist/");
  if (dist !== -1) return url.slice(dist + 1);
  return url.replace(/^file:\/\//, "");
}

/**
 * `window` ({ fromUs, toUs }, CLOCK_MONOTONIC microseconds, the clock of
 * profile.startTime and of process.hrtime in any process on the machine)
 * keeps only the samples taken while the load ran.
 */
export function summarize(profile, top = 25, window = undefined) {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const key = (n) => {
    const f = n.callFrame;
    return `${f.functionName || "(anonymous)"}\t${f.url}\t${f.lineNumber + 1}`;
  };
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  const totalUs = (profile.endTime ?? 0) - (profile.startTime ?? 0);
  const avg = samples.length > 0 ? totalUs / samples.length : 0;
  const self = new Map();
  const incl = new Map();
  const pkgs = new Map();
  let idleUs = 0;
  let sum = 0;
  let kept = 0;
  let t = profile.startTime ?? 0;
  for (let i = 0; i < samples.length; i++) {
    t += deltas[i] ?? 0;
    if (window && (t < window.fromUs || t > window.toUs)) continue;
    kept++;
    // a sample stands for the time until the next one
    const us = Math.max(0, deltas[i + 1] ?? avg);
    sum += us;
    const n = nodes.get(samples[i]);
    if (!n) continue;
    const k = key(n);
    self.set(k, (self.get(k) ?? 0) + us);
    const p = packageOf(n.callFrame.url, n.callFrame.functionName);
    pkgs.set(p, (pkgs.get(p) ?? 0) + us);
    if (n.callFrame.functionName === "(idle)") idleUs += us;
    const seen = new Set();
    for (let id = n.id; id !== undefined; id = parent.get(id)) {
      const a = nodes.get(id);
      const ak = key(a);
      if (a.callFrame.functionName === "(root)" || seen.has(ak)) continue;
      seen.add(ak);
      incl.set(ak, (incl.get(ak) ?? 0) + us);
    }
  }
  const busyUs = sum - idleUs;
  const rows = (m) =>
    [...m.entries()]
      .filter(([k]) => !k.startsWith("(idle)\t"))
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, us]) => {
        const [name, url, line] = k.split("\t");
        return { name, where: url ? `${shortUrl(url)}:${line}` : "", ms: us / 1000, pctOfTotal: (100 * us) / sum, pctOfBusy: (100 * us) / busyUs };
      });
  return {
    totalMs: sum / 1000,
    busyMs: busyUs / 1000,
    idleMs: idleUs / 1000,
    samples: kept,
    window: window ?? null,
    self: rows(self),
    byPackage: [...pkgs.entries()].sort((a, b) => b[1] - a[1]).map(([name, us]) => ({ name, ms: us / 1000, pctOfTotal: (100 * us) / sum, pctOfBusy: (100 * us) / busyUs })),
    inclusive: rows(incl),
  };
}

export function formatSummary(s, top = 25) {
  const pct = (x) => `${x.toFixed(1).padStart(5)}%`;
  const lines = [];
  lines.push(`profile${s.window ? " (load window only)" : ""}: ${s.samples} samples, ${s.totalMs.toFixed(0)} ms, busy ${s.busyMs.toFixed(0)} ms (idle ${s.idleMs.toFixed(0)} ms); percentages are of busy time`);
  lines.push("");
  lines.push(`top ${top} frames by self time:`);
  s.self.slice(0, top).forEach((r, i) => lines.push(`${String(i + 1).padStart(3)}. ${pct(r.pctOfBusy)} ${r.ms.toFixed(0).padStart(6)} ms  ${r.name}  ${r.where}`));
  lines.push("");
  lines.push("self time by package:");
  for (const r of s.byPackage.slice(0, 15)) lines.push(`     ${pct(r.pctOfBusy)} ${r.ms.toFixed(0).padStart(6)} ms  ${r.name}`);
  lines.push("");
  lines.push(`top ${top} frames by inclusive time:`);
  s.inclusive.slice(0, top).forEach((r, i) => lines.push(`${String(i + 1).padStart(3)}. ${pct(r.pctOfBusy)} ${r.ms.toFixed(0).padStart(6)} ms  ${r.name}  ${r.where}`));
  return lines.join("\n");
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [file, topArg] = process.argv.slice(2).filter((a) => !a.startsWith("--"));
  // optional window: --from=<µs> --to=<µs> (CLOCK_MONOTONIC, as bench/profile.mjs records)
  if (!file) {
    process.stderr.write("usage: node bench/cpuprofile-top.mjs <file.cpuprofile> [top=25] [--json] [--from=<µs> --to=<µs>]\n");
    process.exit(2);
  }
  const top = Number(topArg) || 25;
  const arg = (name) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1];
  const window = arg("from") && arg("to") ? { fromUs: Number(arg("from")), toUs: Number(arg("to")) } : undefined;
  const s = summarize(JSON.parse(readFileSync(file, "utf8")), top, window);
  process.stdout.write((process.argv.includes("--json") ? JSON.stringify(s, null, 2) : formatSummary(s, top)) + "\n");
}

// The wait a policy refusal names (src/domain/bake.ts durationText): at most two units, never less than the wait.
import t from "tap";
import { durationText, parseBake } from "../../src/domain/bake.js";

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;

const table: [number, string][] = [
  [0, "1s"],
  [1, "1s"],
  [999, "1s"],
  [S, "1s"],
  [45 * S, "45s"],
  [59 * S + 1, "1m"],
  [M, "1m"],
  [M + 1, "1m1s"],
  [40 * M, "40m"],
  [H + 10 * M, "1h10m"],
  [H + 10 * M + 1, "1h11m"],
  [H + 59 * M + 30 * S, "2h"],
  [D - 1, "1d"],
  [3 * D + 2 * H, "3d2h"],
  [3 * D + 2 * H + 1, "3d3h"],
];

for (const [ms, text] of table) {
  t.test(`${ms} ms is ${text}`, async (t) => {
    t.equal(durationText(ms), text);
    // Never less than the wait: the text parsed back (one unit) or summed is at least ms.
    const back = [...text.matchAll(/(\d+)([smhd])/g)].reduce((sum, m) => sum + parseBake(`${m[1]}${m[2]}`)!, 0);
    t.ok(back >= ms, `${text} is not less than ${ms} ms`);
  });
}

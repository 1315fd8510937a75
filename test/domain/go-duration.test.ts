import t from "tap";
import { parseGoDuration, reconcileFrequencyProblem } from "../../src/domain/go-duration.js";

// What Go's time.ParseDuration accepts (nanoseconds) and refuses (undefined).
const parses: [string, number | undefined][] = [
  ["30m", 30 * 60e9],
  ["1h", 3600e9],
  ["1h30m", 5400e9],
  ["1.5h", 5400e9],
  ["300ms", 300e6],
  [".5h", 1800e9],
  ["1.h", 3600e9],
  ["2h45m30.5s", 2 * 3600e9 + 45 * 60e9 + 30.5e9],
  ["+5m", 300e9],
  ["-1h", -3600e9],
  ["0", 0],
  ["0s", 0],
  ["1us", 1e3],
  ["1\u00b5s", 1e3],
  ["1\u03bcs", 1e3],
  ["1ns", 1],
  ["1m1m", 120e9],
  ["", undefined],
  ["30", undefined],
  ["1", undefined],
  ["h", undefined],
  [".h", undefined],
  ["1d", undefined],
  ["1H", undefined],
  ["1 h", undefined],
  [" 1h", undefined],
  ["1h ", undefined],
  ["1.2.3s", undefined],
  ["--1h", undefined],
  ["1e3s", undefined],
  ["3000000h", undefined],
];
for (const [s, want] of parses) {
  t.test(`parseGoDuration(${JSON.stringify(s)})`, async (t) => {
    t.equal(parseGoDuration(s), want);
  });
}

const problems: [unknown, RegExp | undefined][] = [
  ["30m", undefined],
  ["1h", undefined],
  ["1m", undefined],
  ["60s", undefined],
  ["1h30m", undefined],
  ["59s", /at least 1m/],
  ["1ms", /at least 1m/],
  ["0s", /positive/],
  ["0", /positive/],
  ["-30m", /positive/],
  ["30", /Go duration string/],
  ["1 day", /Go duration string/],
  [30, /Go duration string.*got number/],
  [true, /got boolean/],
  [["1h"], /got an array/],
  [{ h: 1 }, /got object/],
];
for (const [v, want] of problems) {
  t.test(`reconcileFrequencyProblem(${JSON.stringify(v)})`, async (t) => {
    const p = reconcileFrequencyProblem(v);
    if (want === undefined) t.equal(p, undefined);
    else t.match(p, want);
  });
}

// src/services/write-slots.ts: at most `slots` writes at once, at most
// `queue` waiting, then DATABASE_BUSY at once; a slot passes to the next
// waiter when a write ends, failed or not.
import t from "tap";
import { writeSlots } from "../../src/services/write-slots.js";
import { DatabaseBusyError } from "../../src/errors.js";

function gate() {
  let open!: () => void;
  let fail!: (e: Error) => void;
  const p = new Promise<void>((resolve, reject) => ((open = resolve), (fail = reject)));
  return { p, open, fail };
}

t.test("slots, queue, refusal and hand-over", async (t) => {
  const slots = writeSlots(2, 1);
  const started: number[] = [];
  const gates = [gate(), gate(), gate()];
  const run = (i: number) => slots.run(async () => {
    started.push(i);
    await gates[i]!.p;
    return i;
  });
  const a = run(0);
  const b = run(1);
  const c = run(2);
  await Promise.resolve();
  t.same(started, [0, 1], "two run at once");
  t.same(slots.load, { running: 2, waiting: 1 });
  await t.rejects(slots.run(async () => 3), DatabaseBusyError, "a fourth is refused at once: the queue is full");
  gates[0]!.fail(new Error("boom"));
  await t.rejects(a, /boom/, "a failed write's error reaches its caller");
  await new Promise((r) => setImmediate(r));
  t.same(started, [0, 1, 2], "its slot went to the waiter");
  t.same(slots.load, { running: 2, waiting: 0 });
  gates[1]!.open();
  gates[2]!.open();
  t.same(await Promise.all([b, c]), [1, 2]);
  t.same(slots.load, { running: 0, waiting: 0 }, "every slot free again");
  t.equal(await slots.run(async () => "again"), "again", "and usable");
});

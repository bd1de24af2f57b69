import { DatabaseSync } from "node:sqlite";
import { StateDb } from "../../src/state/state_db.ts";
import { assertEquals } from "../assert.ts";

async function withState(fn: (path: string) => void | Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "escale-state-" });
  try {
    await fn(`${dir}/state.db`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function metaOf(st: StateDb) {
  return {
    relayId: st.relayId(),
    clientId: st.clientId(),
    registered: st.registered(),
    seq: st.seq(),
    gcFloor: st.gcFloor(),
    firstSeen: st.firstSeen(),
    served: st.served(),
    answered: st.answered(),
  };
}

Deno.test("state metadata: a new state has the defaults", () =>
  withState((path) => {
    const st = StateDb.open(path);
    assertEquals(metaOf(st), {
      relayId: undefined,
      clientId: undefined,
      registered: false,
      seq: 0,
      gcFloor: 0,
      firstSeen: {},
      served: {},
      answered: {},
    });
    st.close();
  }));

Deno.test("state metadata: values survive a reopen, stored as earlier versions stored them", () =>
  withState((path) => {
    const st = StateDb.open(path);
    st.setRelayId("r1");
    st.setClientId("c1");
    st.setRegistered();
    st.setSeq(7);
    st.setGcFloor(3);
    st.setFirstSeen({ a: 2 });
    st.setServed({ b: 5 });
    st.setAnswered({ c: 4 });
    st.close();
    const raw = new DatabaseSync(path);
    const rows = raw.prepare("SELECT k, v FROM meta ORDER BY k").all();
    raw.close();
    assertEquals(Object.fromEntries(rows.map((r) => [r.k, r.v])), {
      answered: '{"c":4}',
      cid: "c1",
      first: '{"a":2}',
      gcFloor: "3",
      registered: "1",
      relayId: "r1",
      seq: "7",
      served: '{"b":5}',
    });
    const again = StateDb.open(path);
    assertEquals(metaOf(again), {
      relayId: "r1",
      clientId: "c1",
      registered: true,
      seq: 7,
      gcFloor: 3,
      firstSeen: { a: 2 },
      served: { b: 5 },
      answered: { c: 4 },
    });
    again.close();
  }));

Deno.test("state metadata: a replaced relay forgets what was exchanged, keeps the ids", () =>
  withState((path) => {
    const st = StateDb.open(path);
    st.setRelayId("r1");
    st.setClientId("c1");
    st.setRegistered();
    st.setSeq(7);
    st.setGcFloor(3);
    st.setFirstSeen({ a: 2 });
    st.setServed({ b: 5 });
    st.setAnswered({ c: 4 });
    st.resetRelayState();
    assertEquals(metaOf(st), {
      relayId: "r1",
      clientId: "c1",
      registered: false,
      seq: 0,
      gcFloor: 0,
      firstSeen: {},
      served: {},
      answered: {},
    });
    st.close();
  }));

Deno.test("state metadata: an eviction forgets the first commits and the registration only", () =>
  withState((path) => {
    const st = StateDb.open(path);
    st.setRegistered();
    st.setSeq(7);
    st.setFirstSeen({ a: 2 });
    st.setServed({ b: 5 });
    st.forgetProgress();
    assertEquals(
      [st.registered(), st.seq(), st.firstSeen(), st.served()],
      [false, 7, {}, { b: 5 }],
    );
    st.close();
  }));

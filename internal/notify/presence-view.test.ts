import t from "tap";
import { PresenceView } from "./presence-view.ts";

t.test("a member is present while any of its sessions is; changes only at the edges", async (t) => {
  const v = new PresenceView();
  t.same(v.put({ channel: "c", member: "alice", session: "s1" }, 100), {
    type: "join",
    channel: "c",
    member: "alice",
  });
  t.equal(
    v.put({ channel: "c", member: "alice", session: "s2" }, 100),
    undefined,
    "a second session is no new member",
  );
  t.equal(
    v.put({ channel: "c", member: "alice", session: "s1" }, 200),
    undefined,
    "a refresh is no change",
  );
  v.put({ channel: "c", member: "bob", session: "s3" }, 100);
  v.put({ channel: "d", member: "carol", session: "s4" }, 100);
  t.same(v.members("c"), ["alice", "bob"]);
  t.same(v.members("d"), ["carol"]);
  t.same(v.members("none"), []);
  t.equal(
    v.remove({ channel: "c", member: "alice", session: "s1" }),
    undefined,
    "alice still has s2",
  );
  t.same(v.remove({ channel: "c", member: "alice", session: "s2" }), {
    type: "leave",
    channel: "c",
    member: "alice",
  });
  t.equal(
    v.remove({ channel: "c", member: "alice", session: "s2" }),
    undefined,
    "removing twice is harmless",
  );
  t.same(v.members("c"), ["bob"]);
});

t.test("sessions not refreshed in time expire", async (t) => {
  const v = new PresenceView();
  v.put({ channel: "c", member: "alice", session: "old" }, 100);
  v.put({ channel: "c", member: "alice", session: "new" }, 900);
  v.put({ channel: "c", member: "bob", session: "b" }, 100);
  v.put({ channel: "c", member: "bob", session: "b" }, 50);
  t.same(
    v.expire(500),
    [{ type: "leave", channel: "c", member: "bob" }],
    "a late older timestamp does not roll a refresh back",
  );
  t.same(v.members("c"), ["alice"], "alice stays through her newer session");
  t.same(v.expire(1000), [{ type: "leave", channel: "c", member: "alice" }]);
  t.same(v.members("c"), []);
});

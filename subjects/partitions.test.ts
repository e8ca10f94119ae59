import t from "tap";
import {
  ingestChannelOf,
  ingestSubject,
  partitionOf,
  partitionsFromMetadata,
} from "./partitions.ts";

// A change of hash moves channels between partitions, which can reorder a channel whose events
// sit in two partitions: this table must only change together with a drain-first upgrade.
const TABLE: Array<[string, number, number, number]> = [
  ["chat.room1", 11, 3, 107],
  ["chat.room2", 14, 2, 510],
  ["a", 12, 0, 300],
  ["x.y", 6, 2, 374],
  ["orders.eu.1234", 10, 2, 346],
  ["presence", 4, 0, 900],
  ["chat.lobby", 13, 1, 669],
  ["z", 13, 1, 941],
];

t.test("partitionOf is FNV-1a mod P, fixed", async (t) => {
  for (const [channel, p16, p4, p1024] of TABLE) {
    t.same(
      [partitionOf(channel, 16), partitionOf(channel, 4), partitionOf(channel, 1024)],
      [p16, p4, p1024],
      channel,
    );
  }
  t.equal(partitionOf("anything", 1), 0);
});

t.test("subjects carry the partition and give the channel back", async (t) => {
  t.equal(ingestSubject("chat.room1", 16), "ingest.11.chat.room1");
  t.equal(ingestChannelOf("ingest.11.chat.room1"), "chat.room1");
  t.equal(ingestChannelOf("ingest.chat.room1"), undefined, "an unpartitioned subject");
  t.equal(ingestChannelOf("events.1.x"), undefined);
});

t.test("P from INGEST's metadata", async (t) => {
  t.equal(partitionsFromMetadata({ jetmesh_partitions: "16" }), 16);
  t.equal(partitionsFromMetadata({ jetmesh_partitions: "0" }), undefined);
  t.equal(partitionsFromMetadata({ jetmesh_partitions: "x" }), undefined);
  t.equal(partitionsFromMetadata(undefined), undefined);
});

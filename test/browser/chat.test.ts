import { mkdirSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { eventually, launchChromium, SCREENSHOTS, skipWithoutChromium } from "./chromium.ts";
import t from "tap";
import { buildPage } from "../../demo/chat/build.ts";
import { startProcessStack } from "../../devkit/process-stack.ts";
import { jwtAuth, mintToken } from "../../devkit/tokens.ts";

const PRESENCE_TTL_MS = 3000;

/** The texts of the messages a page shows, in order (each `<li>` is "<sender> <text>"). */
const shown = (page: Page) =>
  page.$$eval("#messages li", (lis) => lis.map((li) => li.textContent ?? ""));
const members = (page: Page) =>
  page.$$eval("#members li", (lis) => lis.map((li) => li.textContent ?? ""));
const stateOf = (page: Page) => page.$eval("#state", (el) => el.textContent ?? "");

const skip = skipWithoutChromium;

t.test(
  "chat page in chromium: rooms, both ways, kill -9 of notify and of ingest; every message once, in order; presence right",
  { skip },
  async (t) => {
    const began = Date.now();
    const timings: Record<string, number> = {};
    const mark = (phase: string) => (timings[phase] = Date.now() - began);
    // Under JWT, with the pages' tokens from notify's development endpoint as in run-local.
    // The stack
    // picks its ports after its environment is fixed, so ingest cannot list the page's origin: any.
    const auth = jwtAuth();
    // The page as `make page` builds it, from this checkout's demo/ and sdk/ as they are now.
    const pageDir = await mkdtemp(join(tmpdir(), "jetmesh-page-"));
    t.teardown(() => rm(pageDir, { recursive: true, force: true }));
    await buildPage(pageDir);
    const stack = await startProcessStack({
      ...auth.env,
      NOTIFY_PAGE_DIR: pageDir,
      JETMESH_DEV_TOKENS: "1",
      JETMESH_ALLOWED_ORIGINS: "*",
      NOTIFY_PRESENCE_TTL: `${PRESENCE_TTL_MS}ms`,
    });
    mark("stack up");
    t.teardown(stack.stop);
    const browser = await launchChromium();
    t.teardown(() => browser.close());
    const policies: string[] = [];
    const open = async (name: string, room: string) => {
      const page = await browser.newPage({ viewport: { width: 900, height: 640 } });
      page.on("pageerror", (err) => t.fail(`${name}'s page threw: ${err.message}`));
      page.on("console", (m) =>
        /Content Security Policy|Pattern attribute/.test(m.text()) &&
        t.fail(`${name}'s page broke its CSP: ${m.text()}`));
      // An `ingest` parameter no longer sends anything anywhere: the page publishes where
      // notify says.
      // Carol types her name into the page; the others come with ?name=.
      const typed = name === "carol";
      const res = await page.goto(
        `${stack.notifyHttp}/?room=${room}&ingest=ws://127.0.0.1:9/v1/ws${
          typed ? "" : `&name=${name}`
        }`,
      );
      policies.push(res?.headers()["content-security-policy"] ?? "");
      if (typed) {
        await page.fill('#login input[name="name"]', name);
        await page.press('#login input[name="name"]', "Enter");
      }
      await page.waitForSelector('#state[data-state="open"]', { timeout: 20_000 });
      return page;
    };
    const say = async (page: Page, text: string) => {
      await page.fill("#text", text);
      await page.press("#text", "Enter");
    };

    const [alice, bob, carol] = await Promise.all([
      open("alice", "lobby"),
      open("bob", "games"),
      open("carol", "lobby"),
    ]);
    mark("pages open");
    t.ok(
      policies.every((p) =>
        p.includes(`connect-src 'self' ${stack.ingestWs};`) && p.includes("script-src 'self';")
      ),
      "the page's CSP allows its own origin and ingest's URL to connect to, nothing else",
      { policies },
    );
    const lobby: string[] = [];
    const games: string[] = [];

    // Different rooms.
    for (let i = 1; i <= 3; i++) {
      await say(alice, `lobby-${i}`);
      lobby.push(`alice lobby-${i}`);
      await say(bob, `games-${i}`);
      games.push(`bob games-${i}`);
    }
    t.same(
      await eventually("alice's lobby", () => shown(alice), (m) => m.length >= 3),
      lobby,
      "alice sees the lobby",
    );
    t.same(
      await eventually("carol's lobby", () => shown(carol), (m) => m.length >= 3),
      lobby,
      "carol, in the same room, sees the same",
    );
    t.same(
      await eventually("bob's games", () => shown(bob), (m) => m.length >= 3),
      games,
      "bob, in another room, sees only his room",
    );
    t.same(await eventually("lobby members", () => members(alice), (m) => m.length >= 2), [
      "alice",
      "carol",
    ], "lobby presence");
    t.same(await members(bob), ["bob"], "games presence");

    // Bob joins the lobby: its history first, then the conversation.
    await bob.click('#rooms button[data-room="lobby"]');
    t.same(
      await eventually(
        "bob's lobby history",
        () => shown(bob),
        (m) => m.length >= 3 && m[0].startsWith("alice"),
      ),
      lobby,
      "switching rooms replays the room's history",
    );
    t.same(
      await eventually("bob in the lobby", () => members(alice), (m) => m.length >= 3),
      ["alice", "bob", "carol"],
      "bob appears in the lobby's presence",
    );

    const statesSeen = new Set<string>();
    const kills: string[] = [];
    const rounds = 12;
    for (let r = 1; r <= rounds; r++) {
      await say(alice, `a-${r}`);
      lobby.push(`alice a-${r}`);
      await say(bob, `b-${r}`);
      lobby.push(`bob b-${r}`);
      if (r === 4) {
        await stack.kill("notify");
        kills.push("notify");
        statesSeen.add(
          await eventually("alice noticing", () => stateOf(alice), (s) => s !== "open", 5000),
        );
        // Carol leaves while notify is down: only the presence TTL can take her out.
        await carol.close();
      }
      if (r === 6) {
        await stack.start("notify");
        mark("notify restarted");
      }
      if (r === 8) {
        await stack.kill("ingest");
        kills.push("ingest");
      }
      if (r === 10) {
        await stack.start("ingest");
        mark("ingest restarted");
      }
      await new Promise((res) => setTimeout(res, 150));
    }

    const want = lobby.length;
    mark("conversation sent");
    const [onAlice, onBob] = await Promise.all([alice, bob].map((p) =>
      eventually(
        "every message",
        () => shown(p),
        (m) => m.length >= want,
        30_000,
      )
    ));
    mark("all shown");
    await new Promise((res) => setTimeout(res, 500));
    const finalAlice = await shown(alice);
    const finalBob = await shown(bob);
    const reader = await mintToken(auth.secret, "checker", { subscribe: ["chat.>"] });
    const history = await fetch(`${stack.notifyHttp}/v1/history?channel=chat.lobby&limit=1000`, {
      headers: { authorization: `Bearer ${reader}` },
    });
    const stored = await history.json() as {
      events: Array<{ id: string; data: { text: string } }>;
    };
    // The sender is the publisher in the event id: the token's sub, whatever the page might claim.
    const storedOrder = stored.events.map((e) => `${e.id.split(":")[0]} ${e.data.text}`);

    const duplicates = (m: string[]) => m.length - new Set(m).size;
    const gaps = (m: string[]) => lobby.filter((x) => !m.includes(x)).length;
    const figures = {
      messages: { lobby: want, games: games.length },
      kills,
      statesSeenDuringNotifyOutage: [...statesSeen],
      alice: {
        shown: finalAlice.length,
        duplicates: duplicates(finalAlice),
        gaps: gaps(finalAlice),
      },
      bob: { shown: finalBob.length, duplicates: duplicates(finalBob), gaps: gaps(finalBob) },
    };
    t.comment(JSON.stringify(figures));
    t.equal(onAlice.length, want, "alice shows as many messages as were sent");
    t.equal(onBob.length, want, "so does bob");
    t.same(finalAlice, storedOrder, `alice shows all ${want} lobby messages once, in stored order`);
    t.same(finalBob, storedOrder, "bob shows the same, in the same order");
    t.same([...storedOrder].sort(), [...lobby].sort(), "everything sent was stored once");
    for (const who of ["alice", "bob"]) {
      const own = lobby.filter((m) => m.startsWith(`${who} `));
      t.same(
        finalAlice.filter((m) => m.startsWith(`${who} `)),
        own,
        `${who}'s messages in the order ${who} sent them`,
      );
    }
    t.ok([...statesSeen].every((s) => s === "reconnecting"), "the page showed it was reconnecting");

    const expectedMembers = ["alice", "bob"];
    t.same(
      await eventually(
        "presence after the crashes",
        () => members(alice),
        (m) => m.join() === expectedMembers.join(),
        PRESENCE_TTL_MS + 10_000,
      ),
      expectedMembers,
      "alice's presence list: carol expired, alice and bob back",
    );
    t.same(
      await eventually(
        "bob's presence",
        () => members(bob),
        (m) => m.join() === expectedMembers.join(),
        5000,
      ),
      expectedMembers,
      "bob's presence list too",
    );
    mark("presence right");
    t.equal(await stateOf(alice), "open", "alice's page is open");
    t.equal(await stateOf(bob), "open", "bob's page is open");

    mkdirSync(SCREENSHOTS, { recursive: true });
    await alice.screenshot({ path: `${SCREENSHOTS}/chat-alice.png` });
    await bob.screenshot({ path: `${SCREENSHOTS}/chat-bob.png` });
    t.comment(`timings (ms since start): ${JSON.stringify(timings)}`);
    writeFileSync(
      `${SCREENSHOTS}/chat-figures.json`,
      `${JSON.stringify({ ...figures, timings }, null, 2)}\n`,
    );
  },
);

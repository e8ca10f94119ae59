import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { localPasswords } from "./nats-access.ts";

const dir = mkdtempSync(join(tmpdir(), "jm-nats-access-"));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test("generated passwords start with a letter, so users.conf reads them as strings", (t) => {
  for (let i = 0; i < 200; i++) {
    const { passwords, generated } = localPasswords(join(dir, `p${i}.json`), {});
    t.ok(generated);
    for (const [user, pass] of Object.entries(passwords)) {
      if (!/^[A-Za-z][A-Za-z0-9_-]{20,}$/.test(pass)) t.fail(`${user}: ${pass}`);
    }
  }
  t.end();
});

t.test("a kept password nats-server would misparse is replaced; a good one is kept", (t) => {
  const file = join(dir, "kept.json");
  const first = localPasswords(file, {}).passwords;
  writeFileSync(file, JSON.stringify({ ...first, route: "2024-05-06abc", persist: "3kB" }));
  const { passwords, generated } = localPasswords(file, {});
  t.ok(generated, "something was generated");
  t.equal(passwords.admin, first.admin, "a good kept password stays");
  t.match(passwords.route, /^route-/, "a date-like one is replaced");
  t.match(passwords.persist, /^persist-/, "a size-like one is replaced");
  t.same(JSON.parse(readFileSync(file, "utf8")), passwords, "and the file holds the new set");
  t.end();
});

t.test("a password from the environment is used as it is", (t) => {
  const { passwords } = localPasswords(join(dir, "env.json"), {
    JETMESH_NATS_ROUTE_PASSWORD: "from-env",
  });
  t.equal(passwords.route, "from-env");
  t.end();
});

/// <reference lib="dom" />
/**
 * The chat page notify serves at `/`, built on the SDK: rooms are channels
 * `chat.<room>`, a room shows everything stored in it (`after: "0-0"`) and
 * then live messages, the member list is presence. Query parameters: `name`
 * (who signs in; without it the page asks) and `room`. Ingest's URL is the
 * one notify rendered into the page (its Content-Security-Policy allows no
 * other). Tokens come from notify's development endpoint `/dev/token`
 * (JETMESH_DEV_TOKENS=1, as in make run-local); a real application gets them
 * from its own login. Senders shown are the publishers in event ids, which
 * ingest takes from the token, never from what a client writes.
 */
import {
  JetmeshClient,
  type JetmeshEvent,
  type PresenceWatch,
  type Subscription,
} from "../../sdk/mod.ts";

const TOKEN = /^[A-Za-z0-9_-]{1,64}$/;
const ROOMS = ["lobby", "games", "dev"];

const $ = <T extends HTMLElement = HTMLElement>(selector: string) =>
  document.querySelector<T>(selector)!;
const params = new URLSearchParams(location.search);

/** No name yet: the page asks for one and comes back with it in `?name=`. */
function askForName(): void {
  $("#login").hidden = false;
  $<HTMLFormElement>("#login").onsubmit = (ev) => {
    ev.preventDefault();
    const field = (ev.target as HTMLFormElement).elements.namedItem("name") as HTMLInputElement;
    if (!TOKEN.test(field.value)) return;
    params.set("name", field.value);
    location.search = `?${params}`;
  };
}

/**
 * A token for `name` from the development endpoint; undefined (a 404) when the services run
 * without tokens.
 */
async function devToken(name: string): Promise<string | undefined> {
  const res = await fetch(`/dev/token?name=${encodeURIComponent(name)}`, { cache: "no-store" });
  if (res.status === 404) return undefined;
  const body = await res.json() as { token?: string; message?: string };
  if (!res.ok || typeof body.token !== "string") {
    throw new Error(`no token for ${name}: ${body.message ?? res.status}`);
  }
  return body.token;
}

async function connect(name: string): Promise<JetmeshClient> {
  const first = await devToken(name);
  return new JetmeshClient({
    ingestUrl: document.querySelector<HTMLMetaElement>('meta[name="jetmesh-ingest-url"]')!.content,
    notifyUrl: `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/v1/ws`,
    ...(first === undefined
      ? { publisher: name }
      : { token: first, getToken: async () => (await devToken(name))! }),
    // A chat should be back within a couple of seconds of its servers.
    backoff: { initialMs: 250, maxMs: 2000 },
  });
}

function chat(name: string, client: JetmeshClient): void {
  const messages = $("#messages");
  const input = $<HTMLInputElement>("#text");
  const showError = (text: string) => ($("#error").textContent = text);
  let room: { name: string; sub: Subscription; watch: PresenceWatch } | undefined;

  function showState(): void {
    $("#state").textContent = client.state;
    $("#state").dataset.state = client.state;
    const pending = client.publisher?.pending ?? 0;
    $("#pending").textContent = pending > 0 ? `${pending} waiting for ingest` : "";
  }

  function showMessage(e: JetmeshEvent): void {
    const { text } = (e.data ?? {}) as { text?: unknown };
    const li = document.createElement("li");
    li.dataset.id = e.id;
    li.dataset.cursor = e.cursor;
    const who = document.createElement("b");
    // `<publisher>:<client id>`: ingest put the sender's verified token sub there.
    who.textContent = e.id.slice(0, e.id.indexOf(":"));
    li.append(who, " ", String(text ?? ""));
    messages.append(li);
    li.scrollIntoView({ block: "end" });
  }

  function showMembers(members: string[]): void {
    $("#members").replaceChildren(
      ...members.map((m) => Object.assign(document.createElement("li"), { textContent: m })),
    );
  }

  function showRooms(): void {
    const names = [...new Set([...ROOMS, ...(room ? [room.name] : [])])];
    $("#rooms").replaceChildren(...names.map((r) => {
      const b = Object.assign(document.createElement("button"), {
        textContent: `# ${r}`,
        type: "button",
      });
      b.dataset.room = r;
      b.setAttribute("aria-current", String(r === room?.name));
      b.onclick = () => enter(r);
      return b;
    }));
  }

  /**
   * Leaves the current room and shows another: its whole history, then live messages and who
   * is there.
   */
  function enter(next: string): void {
    if (room?.name === next) return;
    if (room) {
      room.sub.close();
      room.watch.close();
      void client.leave(`chat.${room.name}`);
    }
    const channel = `chat.${next}`;
    messages.replaceChildren();
    const watch = client.presence(channel);
    watch.onChange(showMembers);
    showMembers(watch.members);
    const sub = client.subscribe(channel, { after: "0-0", onEvent: showMessage });
    sub.onError((err) => showError(`#${next}: ${err.message}`));
    room = { name: next, sub, watch };
    $("#room-title").textContent = `# ${next}`;
    params.set("room", next);
    history.replaceState(null, "", `?${params}`);
    showRooms();
    client.join(channel, name).catch((err) => showError(`presence: ${err.message}`));
    input.focus();
  }

  $<HTMLFormElement>("#send").onsubmit = (ev) => {
    ev.preventDefault();
    const text = input.value.trim();
    if (!text || !room) return;
    input.value = "";
    client.publish(`chat.${room.name}`, { text })
      .then(() => showError(""), (err) => showError(`not sent: ${err.message}`))
      .finally(showState);
    showState();
  };

  $<HTMLFormElement>("#new-room").onsubmit = (ev) => {
    ev.preventDefault();
    const field = (ev.target as HTMLFormElement).elements.namedItem("room") as HTMLInputElement;
    if (TOKEN.test(field.value)) enter(field.value);
    field.value = "";
  };

  $("#me").textContent = name;
  client.onState(showState);
  client.onError((err) => showError(`${err.code}: ${err.message}`));
  showState();
  enter(TOKEN.test(params.get("room") ?? "") ? params.get("room")! : ROOMS[0]);
}

const name = params.get("name") ?? "";
if (!TOKEN.test(name)) askForName();
else {
  connect(name).then(
    (client) => chat(name, client),
    (err: Error) => ($("#error").textContent = err.message),
  );
}

/// <reference lib="dom" />
/**
 * The chat page notify serves at `/`, built on the SDK: rooms are channels
 * `chat.<room>`, a room shows everything stored in it (`after: "0-0"`) and
 * then live messages, the member list is presence. Query parameters: `name`
 * (publisher and member id), `room`, and `ingest` (ingest's WebSocket URL,
 * by default port 8080 of this host).
 */
import { JetmeshClient, type JetmeshEvent, type PresenceWatch, type Subscription } from "../../sdk/mod.ts";

const TOKEN = /^[A-Za-z0-9_-]{1,64}$/;
const ROOMS = ["lobby", "games", "dev"];

const params = new URLSearchParams(location.search);
const name = TOKEN.test(params.get("name") ?? "") ? params.get("name")! : `guest-${Math.floor(Math.random() * 1e4)}`;
const client = new JetmeshClient({
  ingestUrl: params.get("ingest") ?? `ws://${location.hostname}:8080/v1/ws`,
  notifyUrl: `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/v1/ws`,
  publisher: name,
  // A chat should be back within a couple of seconds of its servers.
  backoff: { initialMs: 250, maxMs: 2000 },
});

const $ = <T extends HTMLElement = HTMLElement>(selector: string) => document.querySelector<T>(selector)!;
const messages = $("#messages");
const input = $<HTMLInputElement>("#text");

let room: { name: string; sub: Subscription; watch: PresenceWatch } | undefined;

function showState(): void {
  $("#state").textContent = client.state;
  $("#state").dataset.state = client.state;
  const pending = client.publisher?.pending ?? 0;
  $("#pending").textContent = pending > 0 ? `${pending} waiting for ingest` : "";
}

function showMessage(e: JetmeshEvent): void {
  const { from, text } = (e.data ?? {}) as { from?: unknown; text?: unknown };
  const li = document.createElement("li");
  li.dataset.id = e.id;
  li.dataset.cursor = e.cursor;
  const who = document.createElement("b");
  who.textContent = String(from ?? e.id.split(":")[0]);
  li.append(who, " ", String(text ?? ""));
  messages.append(li);
  li.scrollIntoView({ block: "end" });
}

function showMembers(members: string[]): void {
  $("#members").replaceChildren(...members.map((m) => Object.assign(document.createElement("li"), { textContent: m })));
}

function showRooms(): void {
  const names = [...new Set([...ROOMS, ...(room ? [room.name] : [])])];
  $("#rooms").replaceChildren(...names.map((r) => {
    const b = Object.assign(document.createElement("button"), { textContent: `# ${r}`, type: "button" });
    b.dataset.room = r;
    b.setAttribute("aria-current", String(r === room?.name));
    b.onclick = () => enter(r);
    return b;
  }));
}

/** Leaves the current room and shows another: its whole history, then live messages and who is there. */
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
  room = { name: next, sub: client.subscribe(channel, { after: "0-0", onEvent: showMessage }), watch };
  $("#room-title").textContent = `# ${next}`;
  params.set("room", next);
  history.replaceState(null, "", `?${params}`);
  showRooms();
  client.join(channel, name).catch((err) => ($("#error").textContent = `presence: ${err.message}`));
  input.focus();
}

$<HTMLFormElement>("#send").onsubmit = (ev) => {
  ev.preventDefault();
  const text = input.value.trim();
  if (!text || !room) return;
  input.value = "";
  client.publish(`chat.${room.name}`, { from: name, text })
    .then(() => ($("#error").textContent = ""), (err) => ($("#error").textContent = `not sent: ${err.message}`))
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
showState();
enter(TOKEN.test(params.get("room") ?? "") ? params.get("room")! : ROOMS[0]);

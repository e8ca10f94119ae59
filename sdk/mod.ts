/**
 * The jetmesh client SDK: one codebase for browsers, Node and Deno, no
 * dependencies. See README.md for an example and docs/protocol.md for the
 * protocol underneath.
 */
export { type ClientOptions, JetmeshClient } from "./client.ts";
export { type PresenceChange, PresenceWatch } from "./presence.ts";
export {
  IngestClient,
  type IngestClientOptions,
  // Deprecated names of the two above, kept for existing code.
  Publisher,
  type PublisherOptions,
} from "./ingest-client.ts";
export { type SubscribeOptions, Subscriber, type SubscriberOptions } from "./subscriber.ts";
export { Subscription } from "./subscription.ts";
export { compareCursors } from "./cursor.ts";
export { type TokenOptions } from "./token.ts";
export {
  type Ack,
  type BackoffOptions,
  type ClientErrorCode,
  type ConnectionState,
  JetmeshClientError,
  type JetmeshEvent,
  type SocketOptions,
  type WebSocketConstructor,
  type WebSocketLike,
} from "./types.ts";

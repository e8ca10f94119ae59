import uWS from "uWebSockets.js";

/** Listens on a free loopback port and resolves it (the bench's reference servers). */
export function listenLoopback(app: uWS.TemplatedApp): Promise<number> {
  return new Promise<number>((resolve, reject) =>
    app.listen(
      "127.0.0.1",
      0,
      (s) => (s
        ? resolve(uWS.us_socket_local_port(s as uWS.us_socket))
        : reject(new Error("cannot listen"))),
    )
  );
}

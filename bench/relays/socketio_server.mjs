// Reference relay (b): a Node socket.io server with rooms (what many would pick instead).
//
// Websocket transport only, per-message compression off (socket.io's default
// since v4), one `msg` event emitted to the whole room, sender included.
//
// Protocol: `join` (room name, acknowledged), then binary `msg` events.
//
//     node bench/relays/socketio_server.mjs --port 8767

import { createServer } from "node:http";
import { Server } from "socket.io";

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const host = arg("host", "127.0.0.1");
const port = Number(arg("port", "8767"));

const http = createServer();
const io = new Server(http, {
  transports: ["websocket"],
  perMessageDeflate: false,
  httpCompression: false,
  maxHttpBufferSize: 64 * 1024,
  serveClient: false,
  cors: { origin: "*" },
});

io.on("connection", (socket) => {
  let room = null;
  socket.on("join", (name, ack) => {
    room = String(name);
    socket.join(room);
    if (typeof ack === "function") ack("ok");
  });
  socket.on("msg", (data) => {
    if (room !== null) io.to(room).emit("msg", data);
  });
});

http.listen({ host, port, backlog: 512 }, () => {
  console.log(`node socket.io relay on http://${host}:${port}`);
});

function stop() {
  io.close();
  http.close();
  setTimeout(() => process.exit(0), 200).unref();
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);

// Node `ws` peer for bench/compare: echo on any path, broadcast on /broadcast (every message any
// /broadcast connection sends goes to every /broadcast connection, as binary). One Node process:
// one JavaScript thread. bufferutil, installed beside ws, does ws's masking natively.
//
// Usage: node server.js [--port N] [--compress]   (prints "listening on 127.0.0.1:N")
'use strict';

const { WebSocketServer } = require('ws');

let port = 9001;
let compress = false;
const args = process.argv.slice(2);
for (let i = 0; i < args.length; ++i) {
  if (args[i] === '--port') port = Number(args[++i]);
  else if (args[i] === '--compress') compress = true;
}

// ws's own defaults for permessage-deflate when it is on (messages under 1 KiB go uncompressed).
const server = new WebSocketServer({
  host: '127.0.0.1',
  port,
  perMessageDeflate: compress,
  maxPayload: 16 * 1024 * 1024,
  clientTracking: false,
});
const subscribers = new Set();

server.on('connection', (socket, request) => {
  socket.on('error', () => {}); // a reset connection just closes
  if (request.url === '/broadcast') {
    subscribers.add(socket);
    socket.on('close', () => subscribers.delete(socket));
    socket.on('message', (data) => {
      for (const subscriber of subscribers) subscriber.send(data, { binary: true });
    });
    return;
  }
  socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
});
server.on('listening', () => console.log(`listening on 127.0.0.1:${server.address().port}`));
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(0));

#!/usr/bin/node
// An echo server on a real third-party library, the ws package for Node.js (version pinned in
// package.json, installed by scripts/install-deps.sh with `npm ci`), for the fastws client's
// interop tests (tests/integration/client_interop_test.cpp). The same contract as
// tests/interop/ws_echo_server.py, its Python twin:
//
// Usage: node ws_echo_server.mjs [--compress]
// Listens on a free port of 127.0.0.1 and prints "listening on 127.0.0.1:PORT"; echoes each
// message with its type; answers the text "close please" by closing with 4002 "as you asked";
// prints "closed CODE REASON" when a connection ends. --compress accepts permessage-deflate,
// compressing every message (threshold 0).
import { WebSocketServer } from 'ws';

const compress = process.argv.slice(2).includes('--compress');
const server = new WebSocketServer({
  host: '127.0.0.1',
  port: 0,
  perMessageDeflate: compress ? { threshold: 0 } : false,
  maxPayload: 64 * 1024 * 1024,  // the client sends 16 MiB messages
});

server.on('listening', () => console.log(`listening on 127.0.0.1:${server.address().port}`));
server.on('connection', (socket) => {
  socket.on('message', (data, isBinary) => {
    if (!isBinary && data.toString() === 'close please') {
      socket.close(4002, 'as you asked');
      return;
    }
    socket.send(data, { binary: isBinary });
  });
  // A protocol error closes the connection (ws sends the close code); without a listener the
  // 'error' event would end the whole process.
  socket.on('error', () => {});
  socket.on('close', (code, reason) => console.log(`closed ${code} ${reason.toString()}`));
});

#!/usr/bin/node
// A client testee on the ws package for Node.js, for checking fastws-conformance's fuzzing
// server against a client it did not come from (scripts/conformance-peers.sh); the twin of
// ../autobahn_testee.py.
//
// Usage: node autobahn_testee.mjs ws://127.0.0.1:PORT [AGENT]
// Asks /getCaseCount, plays every case on its own connection (echoing each message back with
// its type), then asks /updateReports. ws's defaults otherwise (permessage-deflate offered).
import WebSocket from 'ws';

const base = process.argv[2].replace(/\/$/, '');
const agent = process.argv[3] ?? 'ws';

function visit(url, onMessage) {
  return new Promise((resolve) => {
    const socket = new WebSocket(url);
    socket.on('message', (data, isBinary) => onMessage(socket, data, isBinary));
    socket.on('error', () => {});  // the case's verdict says what went wrong
    socket.on('close', resolve);
  });
}

let count = 0;
await visit(`${base}/getCaseCount`, (_socket, data) => { count = Number(data.toString()); });
for (let i = 1; i <= count; ++i) {
  await visit(`${base}/runCase?case=${i}&agent=${agent}`,
              (socket, data, isBinary) => socket.send(data, { binary: isBinary }));
}
await visit(`${base}/updateReports?agent=${agent}`, () => {});

#!/usr/bin/node
// A real third-party peer for fastws: the ws package for Node.js (version pinned in
// package.json, installed by scripts/install-deps.sh with `npm ci`).
//
// Usage: node ws_peer.mjs PORT [--deflate MODE] [--tls CA_FILE]
// Connects to the echo server of tests/integration/interop_echo_server.hpp on 127.0.0.1:PORT
// and checks: the subprotocol the server prefers, echo of text and binary of every length
// class up to 16 MiB, multi-byte UTF-8 (also split across fragments), fragmented messages
// both ways, a ping with a payload both ways, a burst of small messages in order, a clean close
// 1000 from the client, and on a second connection the server's close 4001 "as you asked".
// Prints one "ok   ..." or
// "FAIL ...: why" line per check and exits 0 only if all passed.
//
// The client always offers permessage-deflate, compressing every message (threshold 0). MODE
// says what the server was configured with and so what must be negotiated:
//   (none)                     compression off: the offer must be declined
//   takeover                   compression on: plain permessage-deflate with context takeover
//   no-context-takeover        the client asks for server_ and client_no_context_takeover
//   server-no-context-takeover the server imposes both parameters on a plain offer
// With compression the wire size of echoes is checked too: a compressible 1 MiB echo must
// arrive much smaller, and a second echo of the same random 4000 bytes must be tiny with
// context takeover (a back-reference) and full-size without.
// With --tls it connects with wss://, verifying the server's certificate against CA_FILE.
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';

const wait_ms = 20000;  // per awaited event; ASan builds are slow with 1 MiB deflate echoes
const modes = ['none', 'takeover', 'no-context-takeover', 'server-no-context-takeover'];

const args = process.argv.slice(2);
const port = Number(args[0]);
const option = (name) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const mode = option('--deflate') ?? 'none';
const ca_file = option('--tls');
if (!Number.isInteger(port) || !modes.includes(mode)) {
  console.log('usage: ws_peer.mjs PORT [--deflate ' + modes.slice(1).join('|') + '] [--tls CA]');
  process.exit(2);
}
const url = `${ca_file ? 'wss' : 'ws'}://127.0.0.1:${port}/`;

let failures = 0;
function check(name, ok, why = '') {
  console.log(ok ? `ok   ${name}` : `FAIL ${name}: ${why || 'no'}`);
  if (!ok) failures += 1;
}

// One connection, with what arrives on it queued for the checks to take in order.
class Peer {
  constructor(ws) {
    this.ws = ws;
    this.queue = [];
    this.waiters = [];
    this.ended = null;  // {kind: 'closed', code, reason} once the connection closed
    this.response_headers = {};
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.ended = { kind: 'closed', code, reason: reason.toString() };
        while (this.waiters.length) this.waiters.shift()(this.ended);
        resolve(this.ended);
      });
    });
    ws.on('upgrade', (response) => { this.response_headers = response.headers; });
    ws.on('message', (data, binary) => this.push({ kind: 'message', data, binary }));
    ws.on('pong', (data) => this.push({ kind: 'pong', data }));
    ws.on('error', (error) => { this.error = error; });
  }

  push(event) {
    if (this.waiters.length) this.waiters.shift()(event);
    else this.queue.push(event);
  }

  // The next message or pong; {kind: 'closed'} or {kind: 'timeout'} when none will come.
  next() {
    if (this.queue.length) return Promise.resolve(this.queue.shift());
    if (this.ended) return Promise.resolve(this.ended);
    return new Promise((resolve) => {
      const waiter = (event) => { clearTimeout(timer); resolve(event); };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        resolve({ kind: 'timeout' });
      }, wait_ms);
      this.waiters.push(waiter);
    });
  }

  // Bytes the socket delivered so far (over wss: after decryption, as over ws).
  get wire_bytes() { return this.ws._socket.bytesRead; }
}

async function connect(protocols, per_message_deflate) {
  const ws = new WebSocket(url, protocols, {
    perMessageDeflate: per_message_deflate,
    maxPayload: 32 << 20,
    ...(ca_file ? { ca: readFileSync(ca_file), ALPNProtocols: ['http/1.1'] } : {}),
  });
  const peer = new Peer(ws);
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return peer;
}

function describe(event) {
  if (event.kind === 'message') {
    return `${event.binary ? 'binary' : 'text'} message of ${event.data.length} bytes`;
  }
  if (event.kind === 'closed') return `the connection closed (${event.code} "${event.reason}")`;
  return event.kind === 'timeout' ? `nothing within ${wait_ms} ms` : event.kind;
}

// Checks that the next event is a message of that type with exactly those bytes.
function check_echo(name, event, binary, expected) {
  if (event.kind !== 'message') return check(name, false, describe(event));
  if (event.binary !== binary) return check(name, false, `got a ${describe(event)}`);
  if (!event.data.equals(expected)) {
    const at = [...expected].findIndex((byte, i) => event.data[i] !== byte);
    return check(name, false, `${describe(event)}, first difference at byte ${at}`);
  }
  check(name, true);
}

async function echo(peer, name, payload, { binary = false, fragments = null } = {}) {
  const bytes = Buffer.from(payload);
  if (fragments) {
    fragments.forEach((part, i) => peer.ws.send(part, { binary, fin: i === fragments.length - 1 }));
  } else {
    peer.ws.send(bytes, { binary });
  }
  check_echo(name, await peer.next(), binary, bytes);
}

// Text of exactly `size` UTF-8 bytes, mostly two-byte characters.
function text_of(size) {
  return 'κόσμε-'.repeat(Math.floor(size / 11)) + 'x'.repeat(size % 11);  // 'κόσμε-' is 11 bytes
}

function binary_of(size) {
  const data = Buffer.alloc(size);
  for (let i = 0; i < size; i++) data[i] = (i * 31) & 0xff;
  return data;
}

const deflate_offers = {
  'none': { threshold: 0 },
  'takeover': { threshold: 0 },
  'no-context-takeover': { threshold: 0, serverNoContextTakeover: true, clientNoContextTakeover: true },
  'server-no-context-takeover': { threshold: 0 },
};

async function main() {
  const ws_version = JSON.parse(
    readFileSync(new URL('./node_modules/ws/package.json', import.meta.url))).version;
  console.log(`     ws ${ws_version} on Node.js ${process.version}, ${url}, deflate mode ${mode}`);

  // The server prefers chat.v1 over chat.v3; the client lists chat.v3 first.
  const peer = await connect(['chat.v3', 'chat.v2', 'chat.v1'], deflate_offers[mode]);
  const socket = peer.ws._socket;
  if (ca_file) {
    check(`TLS ${socket.getProtocol()} with ALPN ${socket.alpnProtocol}`,
          socket.alpnProtocol === 'http/1.1');
  }
  check('subprotocol chat.v1 chosen by the server\'s preference', peer.ws.protocol === 'chat.v1',
        `got "${peer.ws.protocol}"`);

  const extensions = peer.response_headers['sec-websocket-extensions'] ?? '';
  const params = extensions.split(';').map((param) => param.trim());
  const deflate = params[0] === 'permessage-deflate';
  const takeover_expected = mode === 'takeover';
  const expected_params = {
    'none': [],
    'takeover': ['permessage-deflate'],
    // ws keeps its own context unless client_no_context_takeover comes back: fastws echoes it.
    'no-context-takeover':
      ['permessage-deflate', 'server_no_context_takeover', 'client_no_context_takeover'],
    'server-no-context-takeover':
      ['permessage-deflate', 'server_no_context_takeover', 'client_no_context_takeover'],
  }[mode];
  check(`extensions "${extensions}"`,
        (mode === 'none') === !deflate && expected_params.every((p) => params.includes(p)) &&
          (takeover_expected ? !extensions.includes('no_context_takeover') : true),
        `expected ${expected_params.join('; ') || 'none'}`);
  check('ws agrees on the extensions',
        (peer.ws.extensions === 'permessage-deflate') === deflate, `ws has "${peer.ws.extensions}"`);

  // Up to the server's default max_message_size, exactly.
  for (const size of [0, 1, 125, 126, 65535, 65536, 1 << 20, 16 << 20]) {
    const before = peer.wire_bytes;
    await echo(peer, `text echo of ${size} bytes`, text_of(size));
    const text_wire = peer.wire_bytes - before;
    await echo(peer, `binary echo of ${size} bytes`, binary_of(size), { binary: true });
    if (size === 1 << 20) {
      const compressed = text_wire < size / 10;
      check(`1 MiB text echo took ${text_wire} bytes on the wire`, compressed === deflate,
            deflate ? 'not compressed' : 'smaller than the message without compression');
    }
  }
  await echo(peer, 'UTF-8 text with 2-, 3- and 4-byte characters',
             'κόσμε ¡ü € 日本語 ☃ 🚀 𝄞 — done');
  const euro = Buffer.from('price: €5', 'utf8');  // € is E2 82 AC
  const split = euro.indexOf(0xe2) + 2;
  await echo(peer, 'UTF-8 character split across fragments', euro,
             { fragments: [euro.subarray(0, split), euro.subarray(split)] });
  await echo(peer, 'text sent in 3 fragments', 'frag-one frag-two frag-three',
             { fragments: ['frag-one ', 'frag-two ', 'frag-three'] });
  const pieces = [binary_of(70000), Buffer.alloc(0), binary_of(300)];
  await echo(peer, 'binary sent in 3 fragments (70000, 0, 300 bytes)', Buffer.concat(pieces),
             { binary: true, fragments: pieces });

  const ping_payload = Buffer.from('are you there');
  peer.ws.ping(ping_payload);
  const pong = await peer.next();
  check('ping answered with a pong carrying its payload',
        pong.kind === 'pong' && pong.data.equals(ping_payload),
        pong.kind === 'pong' ? `pong payload "${pong.data}"` : describe(pong));

  peer.ws.send('fragments please');
  check_echo('fragmented message from the server reassembled', await peer.next(), false,
             Buffer.from('fragmented ✓'));
  peer.ws.send('ping me');
  check_echo('server\'s ping answered with a pong', await peer.next(), false,
             Buffer.from('pong received'));

  const burst = 1000;
  for (let i = 0; i < burst; i++) peer.ws.send(`burst ${i}`);
  let in_order = 0;
  let why = '';
  for (; in_order < burst; in_order++) {
    const event = await peer.next();
    if (event.kind !== 'message' || event.binary || event.data.toString() !== `burst ${in_order}`) {
      why = `message ${in_order}: ${event.kind === 'message' ? `"${event.data}"` : describe(event)}`;
      break;
    }
  }
  check(`burst of ${burst} small messages echoed in order`, in_order === burst, why);

  if (deflate) {
    // The same incompressible bytes twice: with the server's context kept, the second echo is a
    // back-reference to the first.
    const random = randomBytes(4000);
    const sizes = [];
    for (const round of ['first', 'second']) {
      const before = peer.wire_bytes;
      await echo(peer, `${round} echo of the same 4000 random bytes`, random, { binary: true });
      sizes.push(peer.wire_bytes - before);
    }
    check(`second echo took ${sizes[1]} bytes on the wire (first ${sizes[0]}): ` +
          `server context ${takeover_expected ? 'kept' : 'reset'}`,
          takeover_expected ? sizes[1] < 400 : sizes[1] >= 4000);
  }

  peer.ws.close(1000, 'bye');
  const closed = await Promise.race([
    peer.closed, new Promise((resolve) => setTimeout(() => resolve({ code: 'none' }), wait_ms))]);
  check('clean close 1000 from the client', closed.code === 1000,
        `close event ${closed.code} "${closed.reason}"`);

  // The server closes: it answers "close please" by closing with 4001.
  const closing = await connect([], false);
  closing.ws.send('close please');
  const by_server = await closing.next();
  check('server-initiated close 4001 "as you asked"',
        by_server.kind === 'closed' && by_server.code === 4001 &&
          by_server.reason === 'as you asked', describe(by_server));
}

try {
  await main();
} catch (error) {
  check('no unexpected error', false, error?.stack ?? String(error));
}
process.exit(failures ? 1 : 0);

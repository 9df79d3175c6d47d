// The chat demo's page: plain HTML and JavaScript, served on "/" by examples/chat.cpp.
// Protocol (text frames): the page sends "name NAME", "join ROOM", "say TEXT"; the server sends
// "msg ROOM NAME: TEXT" and "who ROOM NAME,NAME,..." (with --redis: "who ROOM NAME,... NODE",
// the users on server NODE, said again every few seconds; the page shows the union and forgets a
// server not heard of for 10 s).
#pragma once

inline constexpr const char* chat_page = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>fastws chat</title>
<style>
  body { font: 15px system-ui, sans-serif; margin: 0; display: grid;
         grid-template-columns: 1fr 14em; grid-template-rows: auto 1fr auto; height: 100vh; }
  header { grid-column: 1 / 3; background: #1d3557; color: white; padding: .6em 1em; }
  #log { overflow-y: auto; padding: 1em; }
  #log p { margin: .2em 0; }
  aside { border-left: 1px solid #ccc; padding: 1em; }
  form { grid-column: 1 / 3; display: flex; gap: .5em; padding: .6em; border-top: 1px solid #ccc; }
  #text { flex: 1; }
</style>
</head>
<body>
<header>fastws chat &mdash; room <b id="room">lobby</b> as <b id="me"></b>
  <span id="status">connecting&hellip;</span></header>
<div id="log"></div>
<aside><b>Here now</b><ul id="who"></ul>
  <label>Room <input id="room-input" value="lobby" size="8"></label>
  <button id="join" type="button">Join</button></aside>
<form id="form"><input id="text" autocomplete="off" placeholder="Say something">
  <button id="send">Send</button></form>
<script>
const params = new URLSearchParams(location.search);
const name = params.get("name") || "guest" + Math.floor(Math.random() * 1000);
document.getElementById("me").textContent = name;
const log = document.getElementById("log");
const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
function show(text) {
  const p = document.createElement("p");
  p.textContent = text;
  log.appendChild(p);
  log.scrollTop = log.scrollHeight;
}
// Who is here, per server ("" without scale-out): names and when the server last said so.
let present = new Map();
function show_present() {
  const now = Date.now();
  for (const [node, entry] of present) {
    if (node !== "" && now - entry.when > 10000) present.delete(node);
  }
  const names = [...present.values()].flatMap((entry) => entry.names);
  document.getElementById("who").replaceChildren(...names.map((n) => {
    const li = document.createElement("li");
    li.textContent = n;
    return li;
  }));
}
setInterval(show_present, 2000);
function join(room) {
  present = new Map();
  ws.send("join " + room);
  document.getElementById("room").textContent = room;
}
ws.onopen = () => {
  document.getElementById("status").textContent = "connected";
  ws.send("name " + name);
  join(params.get("room") || "lobby");
};
ws.onclose = () => { document.getElementById("status").textContent = "disconnected"; };
ws.onmessage = (event) => {
  const text = event.data;
  if (text.startsWith("msg ")) {
    show(text.slice(text.indexOf(" ", 4) + 1));
  } else if (text.startsWith("who ")) {
    const [, room, list = "", node = ""] = text.split(" ");
    if (room !== document.getElementById("room").textContent) return;
    present.set(node, {names: list.split(",").filter((n) => n), when: Date.now()});
    show_present();
  }
};
document.getElementById("form").onsubmit = (event) => {
  event.preventDefault();
  const input = document.getElementById("text");
  if (input.value) ws.send("say " + input.value);
  input.value = "";
};
document.getElementById("join").onclick = () => join(document.getElementById("room-input").value);
</script>
</body>
</html>
)html";

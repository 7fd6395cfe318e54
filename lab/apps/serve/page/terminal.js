// The browser terminal of `lab serve` (lab/apps/serve/web.py): xterm.js on a WebSocket to the learner's lab.
// Binary messages carry the terminal's bytes both ways; a text message {"resize": [cols, rows]} its size.
(function () {
  "use strict";
  const status = document.getElementById("status");
  const token = new URLSearchParams(window.location.search).get("token") || "";
  const term = new Terminal({ cursorBlink: true, scrollback: 5000, fontSize: 15 });
  const fit = new FitAddon.FitAddon();
  term.loadAddon(fit);
  term.open(document.getElementById("terminal"));
  fit.fit();
  window.labTerminal = term; // the browser test reads the screen from here

  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  const query = new URLSearchParams({ token: token, cols: term.cols, rows: term.rows });
  const socket = new WebSocket(scheme + "//" + window.location.host + "/terminal?" + query);
  socket.binaryType = "arraybuffer";
  const encoder = new TextEncoder();

  socket.onopen = function () { status.textContent = "connected"; };
  socket.onmessage = function (event) {
    if (event.data instanceof ArrayBuffer) term.write(new Uint8Array(event.data));
  };
  socket.onclose = function () {
    status.textContent = "disconnected: reload the page to reconnect";
    status.className = "lost";
    term.write("\r\n\x1b[2m[disconnected: reload the page to reconnect]\x1b[0m\r\n");
  };
  function send(data) {
    if (socket.readyState === WebSocket.OPEN) socket.send(data);
  }
  term.onData(function (text) { send(encoder.encode(text)); });
  term.onBinary(function (text) { send(Uint8Array.from(text, function (c) { return c.charCodeAt(0); })); });
  term.onResize(function (size) { send(JSON.stringify({ resize: [size.cols, size.rows] })); });
  window.addEventListener("resize", function () { fit.fit(); });
  term.focus();
})();

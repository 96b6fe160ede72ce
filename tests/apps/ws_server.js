'use strict';
// A backend like the seed's: a Node http server whose 'upgrade' handler routes WebSocket handshakes by path to
// the `ws` package (8.x). The three WebSocket endpoints echo every message; any other upgrade path is refused by
// destroying the socket, as the seed's backend does. Every WebSocket says which replica it reached, in the 101
// response (X-Replica) and in its first message (`replica:<name>`). GET /api/health answers 200 with the name.
//
//   node ws_server.js [--port 5006] [--name app-1]      (or PORT=, REPLICA=)

const http = require('http');
const os = require('os');
const { WebSocketServer } = require('ws');
const { option } = require('./options');

const port = Number(option('port', 'PORT', '5006'));
const replica = option('name', 'REPLICA', os.hostname());
const WEBSOCKET_PATHS = new Set(['/api/frontend-audio', '/api/call-events', '/api/audio-stream']);

function pathname(req) {
  return new URL(req.url, 'http://backend').pathname;
}

const server = http.createServer((req, res) => {
  const path = pathname(req);
  if (req.method === 'GET' && path === '/api/health') {
    res.writeHead(200, { 'Content-Type': 'text/plain', 'X-Replica': replica });
    res.end(`${replica}\n`);
  } else if (WEBSOCKET_PATHS.has(path)) {
    // A WebSocket endpoint reached without an upgrade (RFC 6455 4.2.2: 426 and the version this server speaks).
    res.writeHead(426, { 'Content-Type': 'text/plain', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'X-Replica': replica });
    res.end('426 Upgrade Required\n');
  } else {
    res.writeHead(404, { 'Content-Type': 'text/plain', 'X-Replica': replica });
    res.end('404 Not Found\n');
  }
});

const wss = new WebSocketServer({ noServer: true });
wss.on('headers', (headers) => headers.push(`X-Replica: ${replica}`));
wss.on('connection', (ws) => {
  ws.send(`replica:${replica}`);
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});

server.on('upgrade', (req, socket, head) => {
  if (WEBSOCKET_PATHS.has(pathname(req))) {
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  } else {
    socket.destroy();
  }
});

server.listen(port, '0.0.0.0', () => {
  console.log(`ws_server ${replica} listening on ${port}`);
});

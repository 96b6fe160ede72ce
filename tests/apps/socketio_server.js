'use strict';
// A Socket.IO 4 server, as an application behind the proxy runs it: the official `socket.io` package with its
// defaults (path /socket.io/, HTTP long-polling first, then the upgrade to a WebSocket).
// Each connection is greeted with `hello` naming this replica; an `echo` event is acknowledged with its payload.
//
//   node socketio_server.js [--port 3000] [--name app-1]      (or PORT=, REPLICA=)

const http = require('http');
const os = require('os');
const { Server } = require('socket.io');
const { option } = require('./options');

const port = Number(option('port', 'PORT', '3000'));
const replica = option('name', 'REPLICA', os.hostname());

const httpServer = http.createServer();
const io = new Server(httpServer);

io.on('connection', (socket) => {
  // Where the client came from, as this server sees it: the proxy's address, and the client's in X-Forwarded-For.
  const { address, headers } = socket.handshake;
  socket.emit('hello', { replica, transport: socket.conn.transport.name, address, forwarded_for: headers['x-forwarded-for'] });
  socket.on('echo', (payload, ack) => {
    if (typeof ack === 'function') ack({ replica, payload, transport: socket.conn.transport.name });
  });
});

httpServer.listen(port, '0.0.0.0', () => {
  console.log(`socketio_server ${replica} listening on ${port}`);
});

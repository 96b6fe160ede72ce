'use strict';
// N official socket.io-client 4 clients, with the default transports (HTTP long-polling first, then the upgrade
// to a WebSocket), each from its own loopback source address, against one URL. Prints one JSON summary and exits.
//
// Client i connects from 127.0.<(i mod addresses) + 1>.1: nginx's ip_hash keys on the first three octets of an
// IPv4 address, so the addresses differ in the third. Each client waits for the server's `hello` (which names
// the replica), for the upgrade to the WebSocket transport, then sends `echo` events and waits for their acks.
// Every error the client sees is recorded: connect_error (with the HTTP status and the body of a failed polling
// request, e.g. 400 {"code":1,"message":"Session ID unknown"}), upgrade errors, transport-error disconnects.
//
//   node socketio_clients.js --url http://127.0.0.1:8001 [--clients 24] [--addresses 24] [--events 3]
//        [--upgrade-wait 5] [--timeout 20]

const http = require('http');
const { io } = require('socket.io-client');
const { option } = require('./options');

const url = option('url', null, 'http://127.0.0.1:3000');
const clients = Number(option('clients', null, '24'));
const addresses = Number(option('addresses', null, String(clients)));
const events = Number(option('events', null, '3'));
const upgradeWait = Number(option('upgrade-wait', null, '5')) * 1000;
const timeout = Number(option('timeout', null, '20')) * 1000;
const deadline = Date.now() + timeout;

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// Resolves when check() is true (polled every 20 ms), or false at the deadline.
async function waitFor(check, until) {
  while (!check()) {
    if (Date.now() >= until) return false;
    await sleep(20);
  }
  return true;
}

// A readable line for an engine.io/socket.io error: message, HTTP status and the body the server answered.
function describe(err) {
  let text = err && err.message ? err.message : String(err);
  if (err && err.description !== undefined) {
    const status = typeof err.description === 'object' ? err.description.message || '' : err.description;
    if (status !== '') text += ` (${status})`;
  }
  const body = err && err.context && typeof err.context.responseText === 'string' ? err.context.responseText : '';
  if (body) text += `: ${body.trim().slice(0, 200)}`;
  return text;
}

async function runClient(index) {
  const source = `127.0.${(index % addresses) + 1}.1`;
  const result = {
    client: index,
    source,
    connected: false,
    replica: null,
    seen_as: null,
    replicas_seen: [],
    transport: null,
    upgraded: false,
    events_sent: 0,
    events_acked: 0,
    ack_replicas: [],
    errors: [],
  };
  const socket = io(url, { agent: new http.Agent({ localAddress: source }), forceNew: true });
  socket.on('hello', (hello) => {
    result.replica = hello.replica;
    result.seen_as = hello.forwarded_for || hello.address;
    if (!result.replicas_seen.includes(hello.replica)) result.replicas_seen.push(hello.replica);
  });
  socket.on('connect', () => {
    result.connected = true;
  });
  socket.on('connect_error', (err) => result.errors.push(`connect_error: ${describe(err)}`));
  socket.on('disconnect', (reason, details) => {
    if (reason !== 'io client disconnect') {
      result.errors.push(`disconnect: ${reason}${details ? ` (${describe(details)})` : ''}`);
    }
  });
  const engineEvents = (engine) => {
    engine.on('upgrade', (transport) => {
      result.upgraded = transport.name === 'websocket';
    });
    engine.on('upgradeError', (err) => result.errors.push(`upgradeError: ${describe(err)}`));
  };
  socket.io.on('open', () => engineEvents(socket.io.engine));

  try {
    if (!(await waitFor(() => socket.connected && result.replica !== null, deadline))) {
      result.errors.push('timeout: not connected');
      return result;
    }
    await waitFor(() => socket.io.engine.transport.name === 'websocket', Math.min(deadline, Date.now() + upgradeWait));
    for (let n = 0; n < events && Date.now() < deadline; n += 1) {
      const payload = `client ${index} event ${n}`;
      result.events_sent += 1;
      try {
        const ack = await socket.timeout(Math.max(1, Math.min(3000, deadline - Date.now()))).emitWithAck('echo', payload);
        if (ack && ack.payload === payload) {
          result.events_acked += 1;
          result.ack_replicas.push(ack.replica);
        } else {
          result.errors.push(`echo: unexpected ack ${JSON.stringify(ack)}`);
        }
      } catch (err) {
        result.errors.push(`echo: ${describe(err)}`);
      }
    }
    return result;
  } finally {
    result.transport = socket.io.engine ? socket.io.engine.transport.name : null;
    socket.disconnect();
  }
}

function count(values) {
  const counts = {};
  for (const value of values) counts[value] = (counts[value] || 0) + 1;
  return counts;
}

async function main() {
  const started = Date.now();
  const results = await Promise.all(Array.from({ length: clients }, (_, index) => runClient(index)));
  const ok = (r) => r.connected && r.transport === 'websocket' && r.events_acked === events && r.errors.length === 0;
  const summary = {
    url,
    clients,
    sources: new Set(results.map((r) => r.source)).size,
    connected: results.filter((r) => r.connected).length,
    websocket: results.filter((r) => r.transport === 'websocket').length,
    upgraded: results.filter((r) => r.upgraded).length,
    echoed_all: results.filter((r) => r.events_acked === events).length,
    succeeded: results.filter(ok).length,
    failed: results.filter((r) => !ok(r)).length,
    with_errors: results.filter((r) => r.errors.length > 0).length,
    replicas: count(results.filter((r) => r.replica !== null).map((r) => r.replica)),
    errors: count(results.flatMap((r) => r.errors)),
    seconds: (Date.now() - started) / 1000,
    results,
  };
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  process.exit(0);
}

setTimeout(() => {
  process.stderr.write('socketio_clients: hard timeout\n');
  process.exit(2);
}, timeout + 10000).unref();

main();

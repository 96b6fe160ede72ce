'use strict';
// WebSocket handshakes with Node's `ws` client (8.x) through the proxy; one JSON summary on stdout.
//
// One attempt = open the WebSocket, note which replica answered (the X-Replica header of the 101 and the first
// message, `replica:<name>`), send one message, wait for its echo, close. It succeeds only if all of that works.
//
//   node ws_clients.js --url ws://127.0.0.1/api/call-events [--count 100] [--concurrency 4]
//   node ws_clients.js --url ... --duration 30 [--concurrency 2] [--interval 20]
//        keep opening new ones for 30 s (each of the concurrent clients waits 20 ms between its attempts)
//   node ws_clients.js --url ... --hold 10 --ready-file F --release-file R [--max-hold 120]
//        open 10 and keep them: F gets the replicas once all are open; when R appears, each echoes once more
//
// Exit status 0 whatever the outcome (the caller judges the counts), 2 on bad usage.

const fs = require('fs');
const WebSocket = require('ws');
const { option } = require('./options');

const url = option('url', null, 'ws://127.0.0.1/api/call-events');
const count = Number(option('count', null, '100'));
const concurrency = Number(option('concurrency', null, '4'));
const duration = Number(option('duration', null, '0')) * 1000;
const interval = Number(option('interval', null, '0'));
const hold = Number(option('hold', null, '0'));
const readyFile = option('ready-file', null, '');
const releaseFile = option('release-file', null, '');
const maxHold = Number(option('max-hold', null, '120')) * 1000;
const stepTimeout = Number(option('timeout', null, '5')) * 1000;

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// The next message of a WebSocket as text, or an Error on close, error or timeout.
function nextMessage(ws) {
  return new Promise((resolve) => {
    const done = (value) => {
      clearTimeout(timer);
      ws.off('message', onMessage);
      ws.off('close', onClose);
      resolve(value);
    };
    const onMessage = (data) => done(data.toString());
    const onClose = (code) => done(new Error(`closed (${code})`));
    const timer = setTimeout(() => done(new Error('timeout waiting for a message')), stepTimeout);
    ws.on('message', onMessage);
    ws.on('close', onClose);
  });
}

// Opens a WebSocket and reads its greeting: {ws, replica, header} or {error}.
function open() {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { handshakeTimeout: stepTimeout });
    let header = null;
    let settled = false;
    const settle = (value) => {
      if (!settled) {
        settled = true;
        resolve(value);
      }
    };
    ws.on('upgrade', (response) => {
      header = response.headers['x-replica'] || null;
    });
    ws.on('unexpected-response', (request, response) => {
      settle({ error: `status ${response.statusCode}`, status: response.statusCode });
      request.destroy();
    });
    ws.on('error', (err) => settle({ error: err.code || err.message }));
    ws.once('open', async () => {
      const greeting = await nextMessage(ws);
      if (greeting instanceof Error) {
        settle({ error: `no greeting: ${greeting.message}` });
      } else if (!greeting.startsWith('replica:')) {
        settle({ error: `unexpected greeting ${greeting}` });
      } else {
        settle({ ws, replica: greeting.slice('replica:'.length), header, status: 101 });
      }
    });
  });
}

async function echo(ws, text) {
  if (ws.readyState !== WebSocket.OPEN) return false;
  ws.send(text);
  const reply = await nextMessage(ws);
  return reply === text;
}

async function attempt(n) {
  const opened = await open();
  if (opened.error) return { ok: false, error: opened.error };
  const ok = await echo(opened.ws, `hello ${n}`);
  opened.ws.close();
  const agrees = opened.header === opened.replica;
  if (ok && agrees) return { ok: true, replica: opened.replica };
  return { ok: false, replica: opened.replica, error: ok ? `X-Replica ${opened.header} disagrees` : 'no echo' };
}

function tally(outcomes, started) {
  const summary = { url, attempts: outcomes.length, succeeded: 0, failed: 0, replicas: {}, errors: {} };
  for (const outcome of outcomes) {
    if (outcome.ok) summary.succeeded += 1;
    else {
      summary.failed += 1;
      summary.errors[outcome.error] = (summary.errors[outcome.error] || 0) + 1;
    }
    if (outcome.ok && outcome.replica) summary.replicas[outcome.replica] = (summary.replicas[outcome.replica] || 0) + 1;
  }
  summary.seconds = (Date.now() - started) / 1000;
  return summary;
}

// `count` attempts, or as many as fit in `duration`, `concurrency` at a time.
async function handshakes() {
  const started = Date.now();
  const outcomes = [];
  let next = 0;
  const more = () => (duration > 0 ? Date.now() - started < duration : next < count);
  const worker = async () => {
    while (more()) {
      const n = next;
      next += 1;
      const outcome = await attempt(n);
      outcome.at = (Date.now() - started) / 1000;
      outcomes.push(outcome);
      if (interval > 0) await sleep(interval);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const summary = tally(outcomes, started);
  // When and what failed (the first few), for the failover test's message.
  summary.failures = outcomes.filter((o) => !o.ok).slice(0, 20).map((o) => ({ at: o.at, error: o.error }));
  return summary;
}

// Opens `hold` WebSockets, reports them, waits for the release file, then checks that each one still echoes.
async function holdOpen() {
  const started = Date.now();
  const held = [];
  for (let n = 0; n < hold; n += 1) {
    const opened = await open();
    const entry = { n, replica: opened.replica || null, error: opened.error || null, closed: null, ws: opened.ws };
    if (opened.ws) {
      entry.echoed_before = await echo(opened.ws, `before ${n}`);
      // Closed by the other side while held (the close code), not by this client at the end.
      opened.ws.on('close', (code) => {
        if (!entry.closing) entry.closed = code;
      });
    }
    held.push(entry);
  }
  const plain = () => held.map(({ ws, closing, ...rest }) => rest);
  if (readyFile) {
    fs.writeFileSync(`${readyFile}.tmp`, JSON.stringify({ held: plain() }));
    fs.renameSync(`${readyFile}.tmp`, readyFile);
  }
  const released = await (async () => {
    while (Date.now() - started < maxHold) {
      if (releaseFile && fs.existsSync(releaseFile)) return true;
      await sleep(100);
    }
    return false;
  })();
  for (const entry of held) {
    entry.echoed_after = entry.ws ? await echo(entry.ws, `after ${entry.n}`) : false;
    entry.closing = true;
    if (entry.ws) entry.ws.close();
  }
  return { url, released, held_seconds: (Date.now() - started) / 1000, held: plain() };
}

async function main() {
  if (!/^wss?:\/\//.test(url) || !(count > 0) || !(concurrency > 0)) {
    process.stderr.write('usage: ws_clients.js --url ws://host/path [--count N] [--duration S] [--hold N]\n');
    process.exit(2);
  }
  const summary = hold > 0 ? await holdOpen() : await handshakes();
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  process.exit(0);
}

main();

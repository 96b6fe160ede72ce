'use strict';
// One replica of the application: runs socketio_server.js (port 3000) and ws_server.js (port 5006) as child
// processes and keeps them running, except while the flag file exists. The tests stop a replica's servers by
// creating the flag (the children get SIGTERM and their ports close) and start them again by removing it: the
// container, its address and its name stay, as a crashed and restarted process on a live host.
//
//   node replica.js [--name app-1] [--stop-flag /tmp/replica.stopped]      (or REPLICA=, STOP_FLAG=)

const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { option } = require('./options');

const replica = option('name', 'REPLICA', os.hostname());
const stopFlag = option('stop-flag', 'STOP_FLAG', '/tmp/replica.stopped');
const SERVERS = [
  ['socketio_server.js', '3000'],
  ['ws_server.js', '5006'],
];
const children = new Map();

function start(script, port) {
  const child = spawn(process.execPath, [path.join(__dirname, script), '--port', port, '--name', replica], {
    stdio: 'inherit',
  });
  children.set(script, child);
  child.on('exit', (code, signal) => {
    children.delete(script);
    console.log(`replica ${replica}: ${script} exited (${signal || code})`);
  });
}

function tick() {
  const stopped = fs.existsSync(stopFlag);
  for (const [script, port] of SERVERS) {
    const child = children.get(script);
    if (stopped && child && child.exitCode === null && !child.killed) child.kill('SIGTERM');
    if (!stopped && !child) start(script, port);
  }
}

// As PID 1 of the container: end the servers with it on docker stop.
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    for (const child of children.values()) child.kill('SIGTERM');
    process.exit(0);
  });
}

tick();
setInterval(tick, 100);

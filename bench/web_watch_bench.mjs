// The body of bench/web_watch_bench.sh: opens N watch connections (raw
// HTTP/1.1 on loopback) to one list, waits until each has its first event,
// reads the proxy's memory and threads, then times a change (made by the
// CLI) until one of the watchers receives it.
import { execSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';

const [port, pid, link, cli, ...counts] = process.argv.slice(2);
const id = link.split('_')[0];
const secret = link.split('_')[2];

// v1::WatchRequest { list_id = 1; secret = 3 }, by hand (two strings).
function field(number, text) {
  const bytes = Buffer.from(text);
  return Buffer.concat([Buffer.from([(number << 3) | 2, bytes.length]), bytes]);
}
const body = Buffer.concat([field(1, id), field(3, secret)]);
const head =
  `POST /api/v1/watch HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n` +
  `Content-Type: application/x-protobuf\r\nContent-Length: ${body.length}\r\n\r\n`;

function proxyStatus() {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rss = Number(/VmRSS:\s+(\d+)/.exec(status)[1]);
  const threads = Number(/Threads:\s+(\d+)/.exec(status)[1]);
  return { rssMiB: (rss / 1024).toFixed(1), threads };
}

function open() {
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), '127.0.0.1', () => {
      socket.write(head);
      socket.write(body);
    });
    let seen = '';
    socket.on('data', (data) => {
      seen += data.toString('latin1');
      if (socket.first === undefined && seen.includes('\r\n\r\n')) {
        socket.first = true;
        resolve(socket);
      }
      if (socket.waiting) socket.waiting();
    });
    socket.on('error', reject);
  });
}

const sockets = [];
const before = proxyStatus();
console.log(`proxy before: ${before.rssMiB} MiB, ${before.threads} threads`);
for (const n of counts.map(Number)) {
  const start = Date.now();
  while (sockets.length < n) {
    const batch = [];
    for (let i = 0; i < 200 && sockets.length + batch.length < n; i += 1) {
      batch.push(open());
    }
    sockets.push(...(await Promise.all(batch)));
  }
  const opened = Date.now() - start;
  await new Promise((r) => setTimeout(r, 1000));
  const s = proxyStatus();
  const watcher = sockets[Math.floor(sockets.length / 2)];
  const got = new Promise((resolve) => {
    watcher.waiting = resolve;
  });
  const t = Date.now();
  execSync(`${cli} add ${id} eggs`, { stdio: 'ignore' });
  await got;
  const took = Date.now() - t;
  watcher.waiting = undefined;
  console.log(
    `${n} idle watches (opened in ${opened} ms): proxy ${s.rssMiB} MiB ` +
      `(${(((s.rssMiB - before.rssMiB) * 1024) / n).toFixed(1)} KiB a watch), ` +
      `${s.threads} threads; a CLI change reached a watcher in ${took} ms`,
  );
}
for (const s of sockets) s.destroy();
process.exit(0);

/**
 * The peer in the side-by-side benchmark: the chat server a Node developer would write instead
 * of Chorus. Socket.IO rooms; every message inserted into SQLite (better-sqlite3, WAL,
 * synchronous=FULL, one insert and so one durable commit per message), acknowledged after the
 * insert, then broadcast to the room. Three roles, each its own process as in real use:
 *
 *   node --import tsx bench/peer-socketio.ts server <sqlite-file>   # prints "listening <port>"
 *   node --import tsx bench/peer-socketio.ts send <port> <room>      # prints "ready", then sends stdin's lines
 *   node --import tsx bench/peer-socketio.ts receive <port> <room>   # says "joined" on stderr, prints JSON lines
 *
 * No accounts or encryption: the peer is given every advantage Chorus does not take.
 */
import { createInterface } from 'node:readline';
import Database from 'better-sqlite3';
import { Server } from 'socket.io';
import { io as connect } from 'socket.io-client';

interface Incoming {
  room: string;
  id: string;
  text: string;
}

interface Broadcast {
  room: string;
  seq: number;
  id: string;
  text: string;
  sentAt: string;
}

/** As many unacknowledged messages as `chorus send --stdin` reads ahead. */
const SEND_BACKLOG = 2048;

const [role, ...args] = process.argv.slice(2);
if (role === 'server') serve(args[0]!);
else if (role === 'send') await send(Number(args[0]), args[1]!);
else if (role === 'receive') receive(Number(args[0]), args[1]!);
else throw new Error(`unknown role ${role}: give server, send or receive`);

function serve(file: string): void {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec(`CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY, room TEXT NOT NULL, client_msg_id TEXT NOT NULL, text TEXT NOT NULL, sent_at TEXT NOT NULL)`);
  const insert = db.prepare('INSERT INTO messages (room, client_msg_id, text, sent_at) VALUES (?, ?, ?, ?)');
  const io = new Server({ serveClient: false });
  io.on('connection', (socket) => {
    socket.on('join', (room: string, ack: () => void) => {
      void socket.join(room);
      ack();
    });
    socket.on('message', (m: Incoming, ack: (reply: { seq: number }) => void) => {
      const sentAt = new Date().toISOString();
      const seq = Number(insert.run(m.room, m.id, m.text, sentAt).lastInsertRowid);
      ack({ seq });
      io.to(m.room).emit('message', { room: m.room, seq, id: m.id, text: m.text, sentAt } satisfies Broadcast);
    });
  });
  io.listen(0);
  // io.listen(0) creates its own http server; its address is the port picked.
  const httpServer = io.httpServer;
  httpServer.once('listening', () => {
    const address = httpServer.address();
    if (address && typeof address === 'object') process.stdout.write(`listening ${address.port}\n`);
  });
  process.on('SIGTERM', () => io.close(() => (db.close(), process.exit(0))));
}

function client(port: number) {
  return connect(`http://127.0.0.1:${port}`, { transports: ['websocket'] });
}

async function send(port: number, room: string): Promise<void> {
  const socket = client(port);
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  process.stdout.write('ready\n');
  const acks: Promise<unknown>[] = [];
  let waited = 0;
  let n = 0;
  for await (const text of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
    if (text === '') continue;
    acks.push(socket.emitWithAck('message', { room, id: `p${n++}`, text } satisfies Incoming));
    while (acks.length - waited >= SEND_BACKLOG) await acks[waited++];
  }
  await Promise.all(acks);
  process.stdout.write(`sent ${acks.length}\n`);
  socket.close();
}

function receive(port: number, room: string): void {
  const socket = client(port);
  socket.on('message', (m: Broadcast) => process.stdout.write(`${JSON.stringify({ seq: m.seq, room: m.room, text: m.text, sentAt: m.sentAt })}\n`));
  socket.on('connect', () => {
    socket.emit('join', room, () => process.stderr.write('joined\n'));
  });
  process.on('SIGTERM', () => (socket.close(), process.exit(0)));
}

/**
 * One receiver of the library benchmark as its own process, as on a member's machine:
 *
 *   BENCH_TOKEN=… node --import tsx bench/receiver-process.ts <server-url> <chat-code> <messages>
 *
 * Says "ready" once it has joined, then delivers until it has `messages` timed messages and prints
 * one JSON line: its counts, and when (epoch ms) it delivered message `b<i>` at index i.
 */
import { Receiver } from '../src/client/receiver.js';
import { httpSource, serverKeyOf } from '../test/support/messaging.js';

export interface ReceiverReport {
  repairedMessages: number;
  deliveredAt: number[];
}

const [url, code, count] = process.argv.slice(2) as [string, string, string];
const token = process.env.BENCH_TOKEN ?? '';
const messages = Number(count);
const deliveredAt = new Array<number>(messages).fill(NaN);
let delivered = 0;

const receiver = new Receiver({ source: httpSource(url, token), serverKey: await serverKeyOf(url), interfaceAddress: '127.0.0.1' });
receiver.onMessage((m) => {
  // The warm-up's messages (client ids `w<i>`, bench/messaging.ts) come first and are not timed.
  if (!m.clientMsgId.startsWith('b')) return;
  deliveredAt[Number(m.clientMsgId.slice(1))] = performance.timeOrigin + performance.now();
  if (++delivered === messages) {
    const report: ReceiverReport = { repairedMessages: receiver.counts.repairedMessages, deliveredAt: deliveredAt.map((t) => Math.round(t * 100) / 100) };
    process.stdout.write(`${JSON.stringify(report)}\n`, () => {
      receiver.close();
      process.exit(0);
    });
  }
});
await receiver.join(code, { after: 0 });
process.stdout.write('ready\n');

/**
 * `npm run bench`: figures, never a pass or fail. Two parts, both by default:
 *
 *   library       the client library's Sender and R Receivers in this process against a
 *                 `chorus server` process: throughput, latency, server CPU, repaired share
 *   side-by-side  the CLI as users script it (`chorus send --stdin`, R `chorus tail --json`
 *                 processes) against a Socket.IO + SQLite peer, and the ratio
 *
 *   npm run bench
 *   npm run bench -- --part library --messages 20000 --receivers 10
 *   npm run bench -- --part side-by-side --messages 2000 --receivers 1,3
 *   npm run bench -- --part side-by-side --rounds 3     # medians of three alternating runs each
 *   CHORUS_MULTICAST_RATE=0 npm run bench     # the server's settings come from its environment
 *   npm run bench -- --sites 2                # only the cluster: two sites vs a single server on PostgreSQL
 */
import { Command } from 'commander';
import { countUpTo, positiveInteger } from '../src/cli/options.js';
import { runMessaging } from './messaging.js';
import { runSideBySide } from './side-by-side.js';
import { runSites } from './sites.js';

const PARTS = ['library', 'side-by-side'] as const;
type Part = (typeof PARTS)[number];

interface Options {
  part: Part[];
  messages: number;
  receivers?: number[];
  rate: number;
  rateSeconds: number;
  rounds: number;
  profile?: string;
  sites?: number;
  receiverNice?: number;
  warmUp: number;
}

const list = (v: string) => v.split(',').map(Number);
const parts = (v: string) => {
  const chosen = v.split(',') as Part[];
  for (const p of chosen) if (!PARTS.includes(p)) throw new Error(`--part: give ${PARTS.join(' or ')}`);
  return chosen;
};

const options = new Command()
  .option('--part <list>', `which parts to run: ${PARTS.join(', ')}`, parts, [...PARTS])
  .option('--messages <n>', 'messages per throughput run', Number, 20_000)
  .option('--receivers <list>', 'receiver counts, comma separated (default 1,10,50 for library, 1,10,30 side by side)', list)
  .option('--rate <n>', 'library: messages per second offered in the latency run', Number, 1000)
  .option('--rate-seconds <n>', 'library: length of the latency run', Number, 5)
  .option('--rounds <n>', 'side by side: runs of each system per receiver count, alternating; figures are their medians', positiveInteger, 1)
  .option('--profile <dir>', "write V8 CPU profiles (.cpuprofile) to this folder: library, each server's; side by side, Chorus's server, sender and receivers'")
  .option('--warm-up <n>', 'messages not counted before each timed run (0: none), so that processes run warm as they do in use: into the chat the receivers follow, which skip them (library: from the bench\'s own sender; side by side: from a sender process of their own)', countUpTo(1_000_000), 5000)
  .option('--receiver-nice <n>', "library, a diagnostic: run the receivers at this lower priority (nice 1..19), to see how much of a figure is their share of this machine's cores", Number)
  .option('--sites <n>', 'run only the cluster benchmark: two sites (PostgreSQL + NATS) beside a single server on PostgreSQL', Number)
  .parse()
  .opts<Options>();

if (options.sites !== undefined) {
  if (options.sites !== 2) throw new Error('--sites: 2 is what this machine can run (one sender, a receiver per site)');
  const rows = await runSites({ messages: options.messages, rate: options.rate, rateSeconds: options.rateSeconds });
  console.log('Sites: committed/s with the sender pipelining; latency send→delivery per receiver, paced');
  console.table(rows);
  process.exit(0);
}

if (options.part.includes('library')) {
  const rows = await runMessaging({ ...options, receivers: options.receivers ?? [1, 10, 50] });
  console.log('Library: Sender in this process, each Receiver and the server in its own');
  console.table(rows);
}
if (options.part.includes('side-by-side')) {
  const rows = await runSideBySide({ messages: options.messages, receivers: options.receivers ?? [1, 10, 30], rounds: options.rounds, profile: options.profile, warmUp: options.warmUp });
  console.log('Side by side: CLI processes (send --stdin, tail --json) vs Socket.IO + SQLite; messages/s until every receiver has every message');
  console.table(rows);
}

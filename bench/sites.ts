/**
 * Cluster benchmark (`npm run bench -- --sites 2`): one sender pipelines into one chat, first on
 * a single server on PostgreSQL, then on two sites (two `chorus server` processes in cluster mode
 * on the same PostgreSQL and the machine's NATS). A receiver at each site, each its own
 * process, delivers every message; the figures compare a same-site delivery with a cross-site
 * one in the same run, and the sender at the chat's owner with the sender at the other site
 * (its sends forwarded over NATS). Prints figures; asserts nothing about speed.
 *
 * On one machine both sites multicast on loopback, so each receiver also sees the other site's
 * datagrams and drops them (signed by a server it does not trust): both receivers pay that alike.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Sender } from '../src/client/sender.js';
import { NATS_URL, createDatabase, dropDatabase, postgresUrlOf } from '../test/support/engine.js';
import { tcpPortOf } from '../test/support/messaging.js';
import { http, signUp } from '../test/support/server.js';
import { percentile, pipeline, startReceiver } from './messaging.js';
import { startChorusServer, stop } from './processes.js';

export interface SitesOptions {
  messages: number;
  rate: number;
  rateSeconds: number;
}

interface Site {
  name: string;
  url: string;
  child: Awaited<ReturnType<typeof startChorusServer>>['child'];
}

async function startSites(names: string[], databaseUrl: string, cluster: boolean) {
  const sites: Site[] = [];
  const dirs: string[] = [];
  for (const name of names) {
    const dataDir = mkdtempSync(join(tmpdir(), `chorus-bench-${name}-`));
    dirs.push(dataDir);
    const clusterArgs = cluster ? ['--nats-url', NATS_URL, '--site', name] : [];
    const { child, url } = await startChorusServer(dataDir, [], ['--database-url', databaseUrl, ...clusterArgs]);
    sites.push({ name, url, child });
  }
  return {
    sites,
    async stop() {
      for (const site of sites) await stop(site.child);
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** One run: the sender at `from`, a receiver at every site; each receiver's latencies apart. */
async function run(databaseUrl: string, sites: Site[], from: Site, messages: number, ratePerSecond?: number) {
  const owner = await signUp(from.url, 'Bench', `bench-${Math.random().toString(36).slice(2)}@example.test`);
  const chat = (await http(from.url)('POST', '/api/chats', { token: owner.token, json: { name: 'bench' } })).body;
  const receivers = [];
  for (const site of sites) receivers.push({ site, ...(await startReceiver(site.url, owner.token, chat.code, messages)) });
  try {
    const sender = new Sender({ host: '127.0.0.1', port: await tcpPortOf(from.url), token: owner.token, window: 1000 });
    await sender.connect();
    const { sentAt, committedMs } = await pipeline(sender, chat.code, messages, ratePerSecond);
    const reports = await Promise.all(receivers.map(async (r) => ({ site: r.site, report: await r.report() })));
    sender.close();
    return {
      owner: await ownerSite(databaseUrl, chat.code),
      committedPerSecond: Math.round(messages / (committedMs / 1000)),
      perReceiver: reports.map(({ site, report }) => {
        const latencies = report.deliveredAt.map((t, i) => t - sentAt[i]!).sort((a, b) => a - b);
        return { site: site.name, p50ms: +percentile(latencies, 50).toFixed(2), p99ms: +percentile(latencies, 99).toFixed(2), repaired: report.repairedMessages };
      }),
    };
  } finally {
    for (const r of receivers) await stop(r.child);
  }
}

/** The site of the server holding the chat's lease (server ids are `<site>-<hex>`); '' on a single server. */
async function ownerSite(databaseUrl: string, code: string): Promise<string> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const row = (await client.query<{ lease_owner: string | null }>('select lease_owner from chats where code = $1', [code.replace('-', '')])).rows[0];
    return row?.lease_owner?.replace(/-[0-9a-f]+$/, '') ?? '';
  } finally {
    await client.end();
  }
}

export async function runSites(options: SitesOptions) {
  const rows: Record<string, string | number>[] = [];
  const database = await createDatabase();
  const url = postgresUrlOf(database);
  try {
    process.stderr.write('single server on PostgreSQL…\n');
    const single = await startSites(['single'], url, false);
    try {
      const max = await run(url, single.sites, single.sites[0]!, options.messages);
      const paced = await run(url, single.sites, single.sites[0]!, options.rate * options.rateSeconds, options.rate);
      rows.push({ setup: 'single server', sender: 'at the server', delivery: 'same site', committedPerSecond: max.committedPerSecond, [`p50ms@${options.rate}/s`]: paced.perReceiver[0]!.p50ms, [`p99ms@${options.rate}/s`]: paced.perReceiver[0]!.p99ms });
    } finally {
      await single.stop();
    }

    process.stderr.write('two sites on PostgreSQL + NATS…\n');
    const two = await startSites(['a', 'b'], url, true);
    try {
      for (const from of two.sites) {
        process.stderr.write(`  sender at site ${from.name}…\n`);
        const max = await run(url, two.sites, from, options.messages);
        const paced = await run(url, two.sites, from, options.rate * options.rateSeconds, options.rate);
        for (const r of paced.perReceiver) {
          rows.push({
            setup: 'two sites',
            sender: from.name === paced.owner ? `at the owner (${from.name})` : `at the other site (${from.name}): forwarded`,
            delivery: r.site === paced.owner ? `at the owner's site (${r.site})` : `at the other site (${r.site}): over NATS`,
            committedPerSecond: max.committedPerSecond,
            [`p50ms@${options.rate}/s`]: r.p50ms,
            [`p99ms@${options.rate}/s`]: r.p99ms,
          });
        }
      }
    } finally {
      await two.stop();
    }
  } finally {
    await dropDatabase(database);
  }
  return rows;
}

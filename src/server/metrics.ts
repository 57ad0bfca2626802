import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { ChatEvents } from './chat-events.js';
import type { Cluster } from './cluster/cluster.js';
import type { Fanout } from './fanout.js';
import type { HttpConnectionCap } from './http/connection-cap.js';
import type { Ingest } from './ingest.js';
import type { PushHub } from './push.js';
import type { ReadPositions } from './read-positions.js';
import type { Sequencer } from './sequencer.js';

export interface MeteredParts {
  sequencer: Sequencer;
  fanout: Fanout;
  ingest: Ingest;
  httpConnections: HttpConnectionCap;
  push: PushHub;
  reads: ReadPositions;
  events: ChatEvents;
  cluster?: Cluster;
}

/**
 * The server's metrics in Prometheus' text format (GET /api/metrics). Each part keeps plain
 * counters of its own; they are read only when scraped, so metrics cost the message path
 * nothing. Labels never carry chat codes, user ids or anything else a member would not say in
 * public: only error codes. One registry per server, so that several servers in one process
 * (the tests) do not mix their figures.
 */
export function serverMetrics(parts: MeteredParts): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'chorus_' });
  const counter = (name: string, help: string, read: () => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  const { sequencer, fanout, ingest, push, reads, events } = parts;
  counter('chorus_messages_committed_total', 'Messages durably committed', () => sequencer.stats.committed);
  counter('chorus_message_retries_total', 'Sends of a client message id already stored (answered with the first seq)', () => sequencer.stats.duplicates);
  counter('chorus_commits_total', 'Group-commit transactions; committed messages over commits is the batch size', () => sequencer.stats.transactions);
  counter('chorus_commit_failures_total', 'Transactions that failed (the store refused a message in them, or the database stayed away)', () => sequencer.stats.failedTransactions);
  counter('chorus_commit_retries_total', 'Group commits tried again after the database connection was lost', () => sequencer.stats.retriedTransactions);
  counter('chorus_datagrams_sent_total', 'DATA datagrams multicast (signed, or vouched for by a VOUCH)', () => fanout.stats.datagrams);
  counter('chorus_vouches_sent_total', 'VOUCH datagrams multicast: one signature for a run of up to 32 DATA datagrams', () => fanout.stats.vouches);
  counter('chorus_heartbeats_sent_total', 'HEARTBEAT datagrams multicast', () => fanout.stats.heartbeats);
  counter('chorus_multicast_send_errors_total', 'Datagrams the operating system refused to send', () => fanout.stats.sendErrors);
  counter('chorus_probes_total', 'PROBE datagrams multicast at clients\' request', () => fanout.stats.probes);
  counter('chorus_messages_pushed_total', 'Messages pushed over TCP to connections multicast does not reach', () => push.stats.pushed);
  counter('chorus_events_datagrams_total', 'EVENTS datagrams multicast (typing, read, presence, membership)', () => fanout.stats.events);
  counter('chorus_events_pushed_total', 'Events pushed over TCP to connections watching their chat', () => push.stats.events);
  counter('chorus_typing_events_total', 'Typing events sent to chats', () => events.stats.typing);
  counter('chorus_read_events_total', 'Read events sent to chats (members who share receipts)', () => events.stats.read);
  counter('chorus_presence_events_total', 'Presence events sent to chats', () => events.stats.presence);
  counter('chorus_membership_events_total', 'Membership events (joined, left) sent to chats', () => events.stats.membership);
  counter('chorus_read_updates_total', 'Read position updates asked for (PUT /read)', () => reads.stats.updates);
  counter('chorus_read_positions_written_total', 'Read position rows written to the store (updates coalesced)', () => reads.stats.rowsWritten);
  counter('chorus_acks_total', 'Sends acknowledged over TCP', () => ingest.stats.acked);
  new Counter({
    name: 'chorus_sends_refused_total',
    help: 'Sends refused over TCP, by error code',
    labelNames: ['code'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [code, count] of Object.entries(ingest.stats.refused)) this.inc({ code }, count ?? 0);
    },
  });
  new Gauge({
    name: 'chorus_tcp_connections',
    help: 'Open TCP connections',
    registers: [registry],
    collect() {
      this.set(ingest.connectionCount);
    },
  });
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  const { httpConnections } = parts;
  gauge('chorus_http_connections', 'Open connections to the HTTP port (TLS handshakes in progress included)', () => httpConnections.open);
  counter('chorus_http_connections_displaced_total', 'HTTP connections closed to make room for a newer one from their address, at its limit: they had no request being answered', () => httpConnections.stats.displaced);
  counter('chorus_http_connections_refused_total', 'HTTP connections closed on accept: every connection of their address at its limit had a request being answered', () => httpConnections.stats.refused);
  counter('chorus_http_pipelining_closed_total', 'HTTP connections closed for having more requests awaiting their response than allowed (pipelined)', () => httpConnections.stats.overPipelined);
  gauge('chorus_tcp_unsent_bytes', 'Bytes written to TCP connections and not yet taken by the operating system, all together', () => ingest.unsentBytes);
  gauge('chorus_push_clients', 'Connections with at least one chat pushed to them (clients on push)', () => push.targetCount);
  gauge('chorus_push_watches', 'Chats pushed, summed over connections', () => push.watchCount);
  gauge('chorus_multicast_rate_bytes_per_second', 'The multicast pace now, in UDP payload bytes a second (lowered while receivers report repairs; 0: unpaced)', () => fanout.pace.rate.bytesPerSecond);
  gauge('chorus_multicast_datagram_bytes', "The largest DATA datagram multicast may send: what the interface's MTU carries whole, 1,200 to 16,384 bytes", () => fanout.datagramBytes);
  gauge('chorus_multicast_rate_datagrams_per_second', 'The multicast pace now, in datagrams a second (lowered while receivers report repairs; 0: unpaced)', () => fanout.pace.rate.datagramsPerSecond);
  gauge('chorus_multicast_rate_share', 'The multicast pace now as a share of the configured one (1: not lowered)', () => fanout.pace.share);
  counter('chorus_multicast_rate_decreases_total', 'Times the pace was lowered because receivers reported repairs', () => fanout.pace.stats.decreases);
  counter('chorus_multicast_rate_increases_total', 'Times the pace was raised back after receivers stopped reporting repairs', () => fanout.pace.stats.increases);
  counter('chorus_progress_reports_total', 'Receivers\' progress reports handed to the pace', () => ingest.stats.progress.taken);
  counter('chorus_progress_reports_dropped_total', 'Progress reports dropped past a connection\'s limit', () => ingest.stats.progress.dropped);
  counter('chorus_progress_reports_ignored_total', 'Progress reports ignored: no such chat, or the sender is not a member', () => ingest.stats.progress.ignored);
  gauge('chorus_multicast_sending_fails', '1 while the latest multicast send failed (the server cannot multicast), else 0', () => (fanout.sendingFails ? 1 : 0));
  const { cluster } = parts;
  if (cluster) {
    counter('chorus_cluster_forwarded_total', "Sends forwarded to their chat's owner on another server", () => cluster.stats.forwarded);
    counter('chorus_cluster_forward_requests_total', 'Bus requests that carried forwarded sends (sends arriving together travel in one)', () => cluster.stats.forwardRequests);
    counter('chorus_cluster_served_total', 'Sends other servers forwarded to this one', () => cluster.stats.served);
    counter('chorus_cluster_rerouted_total', "Sends that looked for their chat's owner again (a failover)", () => cluster.stats.rerouted);
    counter('chorus_cluster_fenced_total', 'Commits refused because another server had taken over a chat (fencing)', () => sequencer.stats.fencedTransactions);
    counter('chorus_cluster_bus_rejected_total', 'Bus messages dropped: not authenticated with the cluster secret, or not JSON', () => cluster.stats.busRejected);
    counter('chorus_cluster_repaired_total', 'Messages read from the database because the bus lost them', () => cluster.stats.repaired);
    gauge('chorus_cluster_leases', 'Chats this server sequences (leases held)', () => cluster.stats.leasesHeld);
    gauge('chorus_cluster_servers', 'Servers of the cluster alive, as of the last heartbeat', () => cluster.stats.liveServers);
  }
  return registry;
}

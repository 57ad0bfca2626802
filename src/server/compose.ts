import type { ChatEvent, PresenceState } from '../protocol/events.js';
import { EVENT_BURST, EVENT_RATE_PER_SECOND, PROBE_BURST, PROBE_RATE_PER_SECOND } from '../protocol/limits.js';
import type { AddressInfo } from 'node:net';
import type { DestinationStream } from 'pino';
import { Accounts } from './accounts.js';
import { ChatKeys } from './chat-keys.js';
import { ChatEvents } from './chat-events.js';
import { Cluster } from './cluster/cluster.js';
import { sharedThrottles } from './cluster/shared-throttles.js';
import { Chats } from './chat-service.js';
import { CodeGuessThrottle } from './code-guess-throttle.js';
import { DEFAULTS, DEFAULT_TIMEOUTS, type RunningServer, type ServerConfig, usesTls } from './config.js';
import { isLoopbackHost } from '../protocol/loopback.js';
import { Fanout } from './fanout.js';
import { HashQueue } from './hash-queue.js';
import { buildHttpApp } from './http/app.js';
import { HttpConnectionCap } from './http/connection-cap.js';
import { Ingest } from './ingest.js';
import { createLogger } from './logger.js';
import { LoginThrottle } from './login-throttle.js';
import { MembershipCache, type MembershipChange } from './membership-cache.js';
import { serverMetrics } from './metrics.js';
import { MulticastAllocator } from './multicast-allocator.js';
import { Presence } from './presence.js';
import { PushHub } from './push.js';
import { type MovedPosition, ReadPositions } from './read-positions.js';
import { SendRateLimiter } from './send-rate.js';
import { RecentMessages } from './recent-messages.js';
import { RegistrationThrottle } from './registration-throttle.js';
import { DEFAULT_SEQUENCER_OPTIONS, Sequencer } from './sequencer.js';
import type { CommittedMessage } from './store/messages.js';
import { ServerIdentity } from './server-identity.js';
import { UserSettings } from './settings.js';
import { sqliteFileIn } from './store/database.js';
import { Store } from './store/store.js';
import { type TlsMaterial, loadOrCreateSelfSigned, loadTlsFiles } from './tls/material.js';
import { TypingNow } from './typing-now.js';

const EXPIRED_SESSION_SWEEP_MS = 60 * 60 * 1000;

export interface StartOptions {
  /** Where the log goes (stdout unless given): tests read it. */
  logDestination?: DestinationStream;
}

/**
 * Wires the parts of a server together and starts listening. A message's path through them:
 * ingest (TCP) → sequencer (group commit into the store) → fan-out (multicast) and the ack.
 */
export async function startServer(config: ServerConfig, options: StartOptions = {}): Promise<RunningServer> {
  const logger = createLogger(config.logLevel, options.logDestination);
  const identity = ServerIdentity.loadOrCreate(config.dataDir);
  const tls = tlsMaterial(config);
  const store = await Store.open(
    config.database.engine === 'sqlite'
      ? { engine: 'sqlite', file: sqliteFileIn(config.dataDir) }
      : { engine: 'postgres', url: config.database.url, ...(config.cluster ? { idleInTransactionTimeoutMs: idleInTransactionTimeout(config.cluster.leaseTtlMs) } : {}) },
  );
  const cleanup: (() => Promise<void>)[] = [() => store.close()];
  const unwind = async () => {
    for (const step of cleanup.reverse()) await step().catch(() => {});
  };

  try {
    const cluster = config.cluster && (await Cluster.start(config.cluster, store, logger));
    if (cluster) cleanup.push(() => cluster.close());
    // In a cluster the abuse throttles count what every server records (cluster/shared-throttles.ts).
    const throttles = cluster
      ? sharedThrottles({ login: config.loginThrottle, registration: config.registrationThrottle, codeGuess: config.codeGuessThrottle }, cluster.throttleChannel)
      : { logins: new LoginThrottle(config.loginThrottle), registrations: new RegistrationThrottle(config.registrationThrottle), guesses: new CodeGuessThrottle(config.codeGuessThrottle) };
    const accounts = new Accounts(store, { logins: throttles.logins, registrations: throttles.registrations, hashing: new HashQueue(config.passwordHashing) }, config.sessionTtlSeconds);
    const members = new MembershipCache(store, { recheckMisses: cluster !== undefined });
    const keys = new ChatKeys(store);
    let fanout: Fanout | undefined;
    const recent = new RecentMessages();
    // One count of unknown chat codes per user and address, for HTTP and TCP alike.
    const guesses = throttles.guesses;
    // Typing and presence: one bucket per user, shared by the user's connections.
    const eventRate = new SendRateLimiter({ perSecond: EVENT_RATE_PER_SECOND, burst: EVENT_BURST });
    // Set once the fan-out and push exist; nothing is announced before the ports listen.
    let chatEvents: ChatEvents | undefined;
    const presence = new Presence({
      take: (userId) => eventRate.take(userId),
      announce: (user, state) => void announcePresence(store, chatEvents, user, state).catch((error) => logger.warn({ err: error }, 'presence could not be announced')),
      logger,
      offlineAfterMs: config.timeouts.offlineAfterMs,
      ...(cluster ? { isLive: (serverId: string) => cluster.leases.liveServers.includes(serverId) } : {}),
    });
    const reads = new ReadPositions({
      store: store.reads,
      logger,
      flushMs: config.timeouts.readFlushMs,
      onFlushed: (moved) => announceReads(chatEvents, moved),
    });
    const chats = new Chats({
      store,
      multicast: new MulticastAllocator(config.multicast),
      membership: members,
      keys,
      recent,
      onKeyRotated: (code) => fanout?.nudge(code),
      limits: config.limits,
      guesses,
      reads,
      presence,
    });
    // The fan-out reads a chat's address from the store, once per chat: it never calls up into the chat service.
    const addressOf = async (code: string) => {
      const address = await store.chats.multicastAddress(code);
      if (!address) throw new Error(`chat ${code} has no multicast address: it does not exist`);
      return address;
    };
    fanout = await Fanout.start(config.multicast, keys, identity, addressOf, logger);
    const activeFanout = fanout;
    cleanup.push(() => activeFanout.close());
    // Before the fan-out closes: batches from other servers stop arriving first.
    if (cluster) cleanup.push(() => cluster.close());
    // Closed after the ports (below), before the fan-out: positions acknowledged are written, and their events still go out.
    cleanup.push(() => reads.close());
    cleanup.push(async () => presence.close());

    // Catch-up reads what the history API would: the recent window in memory, else the store.
    const typing = new TypingNow();
    const push = new PushHub({
      readAfter: async (code, after, limit) => recent.after(code, after, limit) ?? (await store.messages.page(code, { after, limit })),
      isMemberNow: (code, userId) => members.isMemberNow(code, userId),
      isMember: (code, userId) => members.isMember(code, userId),
      typingIn: (code) => typing.in(code),
      logger,
    });
    // A removed member's client hears at once, by its watch refused, rather than at the next message.
    members.onChange((change) => {
      if (change.change === 'removed') push.memberRemoved(change.chatCode, change.userId);
    });
    const events = new ChatEvents({ multicast: activeFanout, push, logger, typing, ...(cluster ? { relay: (code, list) => cluster.relayEvents(code, list) } : {}) });
    chatEvents = events;
    // Someone who joins without a word yet is announced by nothing else: members' clients count them.
    members.onChange((change) => void announceMembership(store, events, change).catch((error) => logger.warn({ err: error }, 'a membership change could not be announced')));

    const sequencer = new Sequencer(
      store,
      cluster ? { ...DEFAULT_SEQUENCER_OPTIONS, fence: (codes) => cluster.leases.fence(codes), onLeaseLost: (codes) => cluster.leases.lost(codes) } : DEFAULT_SEQUENCER_OPTIONS,
    );
    // What this site does with a chat's next messages, in order: the recent window, multicast, push.
    const deliver = (batch: CommittedMessage[]) => {
      recent.add(batch);
      activeFanout.publish(batch);
      push.publish(batch);
    };
    // In a cluster the batch goes through the site feed (which orders this server's commits with
    // those heard from the others) and over the bus to the other sites.
    sequencer.onCommitted(cluster ? (batch) => cluster.publishCommitted(batch) : deliver);
    cluster?.connect({
      local: sequencer,
      deliver,
      members,
      keys,
      keyRotated: (code) => activeFanout.nudge(code),
      eventsHere: (code, list) => events.sendHere(code, list),
      memberRemoved: (code, userId) => push.memberRemoved(code, userId),
      presenceElsewhere: (serverId, userId, state) => presence.heardElsewhere(serverId, userId, state),
    });

    const ingest = new Ingest(
      {
        accounts,
        members,
        sequencer: cluster ? cluster.sink : sequencer,
        logger,
        sendRate: new SendRateLimiter(config.limits.sendRate),
        probeRate: new SendRateLimiter({ perSecond: PROBE_RATE_PER_SECOND, burst: PROBE_BURST }),
        frameTimeoutMs: config.timeouts.tcpFrameMs,
        helloTimeoutMs: config.timeouts.tcpHelloMs ?? DEFAULT_TIMEOUTS.tcpHelloMs!,
        drainTimeoutMs: config.timeouts.tcpDrainMs ?? DEFAULT_TIMEOUTS.tcpDrainMs!,
        connectionLimits: {
          perUser: config.limits.connectionsPerUser ?? DEFAULTS.connectionsPerUser,
          perAddress: config.limits.connectionsPerAddress ?? DEFAULTS.connectionsPerAddress,
        },
        guesses,
        push,
        probes: activeFanout,
        eventRate,
        events: chatEvents,
        presence,
        pace: activeFanout,
      },
      tls,
    );
    const tcpPort = await ingest.listen(config.host, config.tcpPort);
    cleanup.push(() => ingest.close());

    const httpConnections = new HttpConnectionCap({
      perAddress: config.limits.httpConnectionsPerAddress ?? DEFAULTS.httpConnectionsPerAddress,
      pipelined: config.limits.httpPipelinedRequests ?? DEFAULTS.httpPipelinedRequests,
    });
    const metrics = serverMetrics({ sequencer, fanout: activeFanout, ingest, httpConnections, push, reads, events, ...(cluster ? { cluster } : {}) });
    const historyRequestsPerUser = config.limits.historyRequestsPerUser ?? DEFAULTS.historyRequestsPerUser;
    // A logout ends the session's TCP connections too, not only its HTTP requests.
    const sessionEnded = (token: string) => ingest.endSession(token);
    const app = await buildHttpApp(
      { accounts, chats, settings: new UserSettings(store.reads), identity, tcpPort, tls, metrics, connections: httpConnections, historyRequestsPerUser, sessionEnded, loopbackOnly: isLoopbackHost(config.host) },
      logger,
      config.timeouts,
    );
    await app.listen({ host: config.host, port: config.httpPort });
    cleanup.push(() => app.close());

    const { port } = app.server.address() as AddressInfo;
    const httpUrl = `${tls ? 'https' : 'http'}://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
    const sweep = setInterval(() => void accounts.removeExpiredSessions().catch(() => {}), EXPIRED_SESSION_SWEEP_MS);
    sweep.unref();
    cleanup.push(async () => clearInterval(sweep));
    logger.info(
      {
        httpUrl,
        tcpPort,
        tls: tls !== undefined,
        tlsFingerprint: tls?.fingerprint,
        engine: store.engine,
        multicastInterface: config.multicast.interface,
        multicastDatagramBytes: activeFanout.datagramBytes,
        ...(cluster ? { site: cluster.site, serverId: cluster.serverId } : {}),
      },
      'chorus server listening',
    );

    let closing: Promise<void> | undefined;
    return {
      httpUrl,
      tcpPort,
      ...(tls ? { tlsFingerprint: tls.fingerprint } : {}),
      ...(cluster ? { cluster: { serverId: cluster.serverId, site: cluster.site } } : {}),
      close() {
        // In reverse order of start: HTTP and TCP stop accepting and finish what is in flight,
        // the sequencer's last commit goes out, then multicast and the database close.
        closing ??= (async () => {
          await unwind();
          logger.info('chorus server stopped');
        })();
        return closing;
      },
    };
  } catch (error) {
    await unwind();
    throw error;
  }
}

/** A presence change goes to every chat the user is in: one EVENTS datagram each. */
async function announcePresence(store: Store, events: ChatEvents | undefined, user: { id: number; name: string }, state: PresenceState): Promise<void> {
  if (!events) return;
  const event: ChatEvent = { kind: 'presence', userId: user.id, name: user.name, state };
  for (const chatCode of await store.chats.codesForUser(user.id)) events.send(chatCode, [event]);
}

async function announceMembership(store: Store, events: ChatEvents, change: MembershipChange): Promise<void> {
  const user = await store.users.findById(change.userId);
  if (!user) return;
  events.send(change.chatCode, [{ kind: 'membership', userId: user.id, name: user.name, change: change.change === 'added' ? 'joined' : 'left' }]);
}

/** Positions written at a flush, as read events per chat: only those of members who share receipts. */
function announceReads(events: ChatEvents | undefined, moved: MovedPosition[]): void {
  if (!events) return;
  const byChat = new Map<string, ChatEvent[]>();
  for (const m of moved) {
    if (!m.shared) continue;
    const list = byChat.get(m.chatCode) ?? [];
    list.push({ kind: 'read', userId: m.userId, name: m.name, seq: m.seq });
    byChat.set(m.chatCode, list);
  }
  for (const [chatCode, list] of byChat) events.send(chatCode, list);
}

/** The operator's certificate, else the self-signed one in the data folder; none on plain loopback. */
function tlsMaterial(config: ServerConfig): TlsMaterial | undefined {
  if (!usesTls(config)) return undefined;
  if (config.tls.files) return loadTlsFiles(config.tls.files.cert, config.tls.files.key);
  return loadOrCreateSelfSigned(config.dataDir, config.host);
}

/**
 * How long a cluster server's database session may sit idle inside a transaction: half the
 * lease time (at least 500 ms; group commits take milliseconds), so that a server paused inside
 * a commit has released the chat's row before another server may take the chat over.
 */
function idleInTransactionTimeout(leaseTtlMs: number): number {
  return Math.max(500, Math.floor(leaseTtlMs / 2));
}

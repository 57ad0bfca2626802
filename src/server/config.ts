import { AUTH_TIMEOUT_MS, FRAME_TIMEOUT_MS } from '../protocol/limits.js';
import { isLoopbackHost } from '../protocol/loopback.js';
import { DEFAULT_HOST, DEFAULT_HTTP_PORT, DEFAULT_MULTICAST_INTERFACE, DEFAULT_TCP_PORT } from '../protocol/defaults.js';
import { type CodeGuessPolicy, DEFAULT_CODE_GUESS_THROTTLE } from './code-guess-throttle.js';
import { DEFAULT_HASHING, type HashingPolicy } from './hash-queue.js';
import { DEFAULT_THROTTLE, type ThrottlePolicy } from './login-throttle.js';
import type { MulticastRate } from './pacer.js';
import { DEFAULT_REGISTRATION_THROTTLE, type RegistrationPolicy } from './registration-throttle.js';
import { DEFAULT_SEND_RATE, type SendRatePolicy } from './send-rate.js';

/**
 * The server's configuration: parsed and validated once at the edge (CLI flags and CHORUS_*
 * environment variables, see src/cli/server.ts) and passed down as this typed object.
 */
export interface ServerConfig {
  /** Folder holding the SQLite database, the server's signing key and its self-signed TLS certificate. */
  dataDir: string;
  host: string;
  /** 0 picks a free port (tests). */
  httpPort: number;
  tcpPort: number;
  /** Session lifetime in seconds. */
  sessionTtlSeconds: number;
  /** Database engine: the embedded SQLite file in dataDir, or a PostgreSQL URL. */
  database: { engine: 'sqlite' } | { engine: 'postgres'; url: string };
  multicast: MulticastConfig;
  /** Failed-login throttling; see login-throttle.ts. */
  loginThrottle: ThrottlePolicy;
  /** Accounts one address may make; see registration-throttle.ts. */
  registrationThrottle: RegistrationPolicy;
  /** Argon2 work at once, and how much may wait; see hash-queue.ts. */
  passwordHashing: HashingPolicy;
  /** How many unknown chat codes one user, or one address, may try; see code-guess-throttle.ts. */
  codeGuessThrottle: CodeGuessPolicy;
  /** Abuse limits: messages per user, chats per user, members per chat. */
  limits: AbuseLimits;
  /** How long a slow peer may take before it is cut off; short ones in tests. */
  timeouts: PeerTimeouts;
  /** pino level; 'silent' in tests. */
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** TLS for the HTTP API and the TCP port; see usesTls. */
  tls: TlsConfig;
  /** Cluster mode (PostgreSQL only): this server is one of several sharing the database and a NATS bus. */
  cluster?: ClusterConfig;
}

export interface ClusterConfig {
  /** nats:// URL of the bus all servers of the cluster share. */
  natsUrl: string;
  /** This server's site (its subnet): a name for people and logs. */
  site: string;
  /** How long a server's leases outlive its last heartbeat. */
  leaseTtlMs: number;
}

export const DEFAULT_LEASE_TTL_MS = 6_000;

export interface TlsConfig {
  /** Speak TLS on a loopback address too (beyond loopback it is always on). */
  force: boolean;
  /** The operator's own certificate and key (PEM files); without them, a self-signed one in dataDir. */
  files?: { cert: string; key: string };
}

/**
 * Beyond loopback, people on the network could read tokens and passwords off the wire, so both
 * ports speak TLS; on loopback only when asked (or when the operator gave a certificate).
 */
export function usesTls(config: Pick<ServerConfig, 'host' | 'tls'>): boolean {
  return config.tls.force || config.tls.files !== undefined || !isLoopbackHost(config.host);
}


/** The optional limits and timeouts are filled in from DEFAULTS and DEFAULT_TIMEOUTS where they are read. */
export interface AbuseLimits {
  /** Messages one user may send over TCP, all connections together; see send-rate.ts. */
  sendRate: SendRatePolicy;
  /** Chats one user may create. */
  chatsPerUser: number;
  /** Members one chat may have. */
  membersPerChat: number;
  /** TCP connections one user may hold open at once (TOO_MANY_CONNECTIONS past it). */
  connectionsPerUser?: number;
  /** TCP connections one address may hold open at once, logged in or not. */
  connectionsPerAddress?: number;
  /** HTTP connections one address may hold open at once (TLS handshakes in progress included); see http/connection-cap.ts. */
  httpConnectionsPerAddress?: number;
  /** HTTP requests one connection may have awaiting their response at once (pipelined); past it the connection is closed. */
  httpPipelinedRequests?: number;
  /** History requests one user may have being answered at once (429 with Retry-After past it). */
  historyRequestsPerUser?: number;
  /** A history page stops before its JSON passes this many bytes (it always holds one message). */
  historyPageBytes?: number;
}

/** Slow-loris guards: a peer that trickles a request or a frame is cut off. */
export interface PeerTimeouts {
  /** HTTP: a request's headers must have arrived within this. */
  httpHeadersMs: number;
  /** HTTP: the whole request, headers and body (at most 64 KiB). */
  httpRequestMs: number;
  /** HTTP: a connection with no traffic at all. */
  httpIdleMs: number;
  /** HTTP: an idle keep-alive connection between two requests. */
  httpKeepAliveMs: number;
  /** HTTP: a response must be handed to the operating system within this of its request's arrival (a client that does not read is cut off). */
  httpResponseMs?: number;
  /** TCP: a frame begun must be complete within this. */
  tcpFrameMs: number;
  /** TCP: a connection must say `hello` within this (once it has, its lookup may take longer). */
  tcpHelloMs?: number;
  /** TCP: a peer whose answers back up (it does not read) must take them within this, or it is cut off. */
  tcpDrainMs?: number;
  /** Presence: a user whose last connection closed this long ago is offline (OFFLINE_AFTER_MS). */
  offlineAfterMs?: number;
  /** Read positions are written at most this often (READ_FLUSH_MS). */
  readFlushMs?: number;
}

export interface MulticastConfig {
  /** CIDR range chat groups are drawn from, e.g. 239.255.0.0/16. */
  groups: string;
  /** Inclusive UDP port range chats are drawn from. */
  ports: { first: number; last: number };
  /** Address of the interface multicast leaves from. */
  interface: string;
  ttl: number;
  /** The pace multicast leaves at, so that a burst is spread instead of dumped; unset: the default for the interface (pacer.ts: defaultMulticastRate). */
  rate?: MulticastRate;
  /** The largest DATA datagram; unset: what the interface's MTU carries whole (datagram-size.ts). */
  datagramBytes?: number;
}

export const DEFAULTS = {
  dataDir: './chorus-data',
  host: DEFAULT_HOST,
  httpPort: DEFAULT_HTTP_PORT,
  tcpPort: DEFAULT_TCP_PORT,
  sessionTtlSeconds: 30 * 24 * 3600,
  multicastGroups: '239.255.0.0/16',
  // Below every system's ephemeral range (Linux 32768-60999; IANA, Windows and macOS
  // 49152-65535), so the system never hands a chat's port to some program's outgoing socket,
  // and clear of well-known services (docs/protocol.md, "Groups and ports").
  multicastPorts: { first: 24000, last: 24999 },
  multicastInterface: DEFAULT_MULTICAST_INTERFACE,
  multicastTtl: 1,
  chatsPerUser: 100,
  membersPerChat: 1000,
  connectionsPerUser: 32,
  connectionsPerAddress: 1024,
  // Every local user of a machine, or a whole office behind one NAT address, shares its count:
  // a person's clients hold a few connections each (the CLI one, the agent a handful).
  httpConnectionsPerAddress: 1024,
  // No client of Chorus pipelines; a few allow for one that does.
  httpPipelinedRequests: 8,
  historyRequestsPerUser: 4,
  historyPageBytes: 1024 * 1024,
} as const;

export const DEFAULT_TIMEOUTS: PeerTimeouts = {
  httpHeadersMs: 10_000,
  httpRequestMs: 30_000,
  httpIdleMs: 30_000,
  httpKeepAliveMs: 10_000,
  httpResponseMs: 30_000,
  tcpFrameMs: FRAME_TIMEOUT_MS,
  tcpHelloMs: AUTH_TIMEOUT_MS,
  tcpDrainMs: 10_000,
};

export function defaultServerConfig(overrides: Partial<ServerConfig> = {}): ServerConfig {
  return {
    dataDir: DEFAULTS.dataDir,
    host: DEFAULTS.host,
    httpPort: DEFAULTS.httpPort,
    tcpPort: DEFAULTS.tcpPort,
    sessionTtlSeconds: DEFAULTS.sessionTtlSeconds,
    database: { engine: 'sqlite' },
    multicast: {
      groups: DEFAULTS.multicastGroups,
      ports: { ...DEFAULTS.multicastPorts },
      interface: DEFAULTS.multicastInterface,
      ttl: DEFAULTS.multicastTtl,
    },
    loginThrottle: { ...DEFAULT_THROTTLE },
    registrationThrottle: { ...DEFAULT_REGISTRATION_THROTTLE },
    passwordHashing: { ...DEFAULT_HASHING },
    codeGuessThrottle: { ...DEFAULT_CODE_GUESS_THROTTLE },
    limits: {
      sendRate: { ...DEFAULT_SEND_RATE },
      chatsPerUser: DEFAULTS.chatsPerUser,
      membersPerChat: DEFAULTS.membersPerChat,
      connectionsPerUser: DEFAULTS.connectionsPerUser,
      connectionsPerAddress: DEFAULTS.connectionsPerAddress,
      httpConnectionsPerAddress: DEFAULTS.httpConnectionsPerAddress,
      httpPipelinedRequests: DEFAULTS.httpPipelinedRequests,
      historyRequestsPerUser: DEFAULTS.historyRequestsPerUser,
      historyPageBytes: DEFAULTS.historyPageBytes,
    },
    timeouts: { ...DEFAULT_TIMEOUTS },
    logLevel: 'info',
    tls: { force: false },
    ...overrides,
  };
}

/** What startServer hands back: where it listens, and how to stop it gracefully. */
export interface RunningServer {
  /** e.g. http://127.0.0.1:6789, or https://… when it speaks TLS */
  httpUrl: string;
  tcpPort: number;
  /** When it speaks TLS: the certificate's SHA-256 fingerprint, which clients pin. */
  tlsFingerprint?: string;
  /** In cluster mode: this server's id (random per start) and site. */
  cluster?: { serverId: string; site: string };
  close(): Promise<void>;
}

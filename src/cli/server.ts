import { isIPv4 } from 'node:net';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { LARGEST_DATAGRAM_BYTES, MAX_DATAGRAM_BYTES } from '../protocol/limits.js';
import { type ClusterConfig, DEFAULTS, DEFAULT_LEASE_TTL_MS, type RunningServer, type ServerConfig, type TlsConfig, defaultServerConfig } from '../server/config.js';
import { DEFAULT_MULTICAST_RATE, LOOPBACK_MULTICAST_RATE, type MulticastRate } from '../server/pacer.js';
import { DEFAULT_SEND_RATE } from '../server/send-rate.js';
import { CliError, usageError } from './output.js';
import { stopOnSignals } from './signals.js';

/**
 * `chorus server`: every setting is a flag or a CHORUS_* environment variable (the flag wins,
 * then the environment, then the default), validated here once and handed to the server as a
 * typed ServerConfig.
 */

interface ServerOptions {
  data?: string;
  host?: string;
  httpPort?: string;
  tcpPort?: string;
  sessionTtl?: string;
  databaseUrl?: string;
  logLevel?: string;
  multicastGroups?: string;
  multicastPorts?: string;
  multicastInterface?: string;
  multicastTtl?: string;
  multicastRate?: string;
  multicastDatagramBytes?: string;
  messageRate?: string;
  messageBurst?: string;
  maxChatsPerUser?: string;
  maxMembersPerChat?: string;
  /** true from the flag; the variable's text when it came from CHORUS_TLS. */
  tls?: boolean | string;
  tlsCert?: string;
  tlsKey?: string;
  natsUrl?: string;
  site?: string;
  leaseTtl?: string;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const { first: MC_FIRST, last: MC_LAST } = DEFAULTS.multicastPorts;
const rateText = (rate: MulticastRate) => `${(rate.bytesPerSecond * 8) / 1e6},${rate.datagramsPerSecond}`;
const MC_RATE_DEFAULT = rateText(DEFAULT_MULTICAST_RATE);

const OPTIONS: [flags: string, env: string, description: string][] = [
  ['--data <dir>', 'CHORUS_DATA', `folder for the database and the server's key (default ${DEFAULTS.dataDir})`],
  ['--host <address>', 'CHORUS_HOST', `address to listen on (default ${DEFAULTS.host}: this machine only)`],
  ['--http-port <port>', 'CHORUS_HTTP_PORT', `port of the HTTP API, 0 for any free one (default ${DEFAULTS.httpPort})`],
  ['--tcp-port <port>', 'CHORUS_TCP_PORT', `port messages are sent to, 0 for any free one (default ${DEFAULTS.tcpPort})`],
  ['--session-ttl <duration>', 'CHORUS_SESSION_TTL', 'how long a login lasts: seconds, or a number with s, m, h or d (default 30d)'],
  ['--database-url <url>', 'CHORUS_DATABASE_URL', 'use PostgreSQL at this postgres:// URL (default: embedded SQLite in the data folder)'],
  ['--log-level <level>', 'CHORUS_LOG_LEVEL', `${LOG_LEVELS.join(', ')} (default info)`],
  ['--multicast-groups <cidr>', 'CHORUS_MULTICAST_GROUPS', `range chats' multicast groups are drawn from, within 224.0.0.0/4 (default ${DEFAULTS.multicastGroups})`],
  ['--multicast-ports <first-last>', 'CHORUS_MULTICAST_PORTS', `range of chats' UDP ports (default ${MC_FIRST}-${MC_LAST})`],
  ['--multicast-interface <address>', 'CHORUS_MULTICAST_INTERFACE', `IPv4 address of the interface multicast leaves from (default ${DEFAULTS.multicastInterface})`],
  ['--multicast-ttl <hops>', 'CHORUS_MULTICAST_TTL', `how many routers multicast may cross, 0..255 (default ${DEFAULTS.multicastTtl}: this network only)`],
  ['--multicast-rate <mbit,datagrams>', 'CHORUS_MULTICAST_RATE', `pace of multicast, all chats together: megabits per second and datagrams per second; 0 for no pacing (default ${MC_RATE_DEFAULT}, for Wi-Fi; ${rateText(LOOPBACK_MULTICAST_RATE)} on a loopback interface)`],
  ['--multicast-datagram-bytes <bytes>', 'CHORUS_MULTICAST_DATAGRAM_BYTES', `largest multicast datagram, ${MAX_DATAGRAM_BYTES}..${LARGEST_DATAGRAM_BYTES} (default: what the interface's MTU carries whole; ${MAX_DATAGRAM_BYTES} with a TTL above 1)`],
  ['--message-rate <per-second>', 'CHORUS_MESSAGE_RATE', `messages one user may send per second, sustained; 0 for no limit (default ${DEFAULT_SEND_RATE.perSecond})`],
  ['--message-burst <count>', 'CHORUS_MESSAGE_BURST', `messages one user may send at once before --message-rate applies (default ${DEFAULT_SEND_RATE.burst})`],
  ['--max-chats-per-user <count>', 'CHORUS_MAX_CHATS_PER_USER', `chats one user may create (default ${DEFAULTS.chatsPerUser})`],
  ['--max-members-per-chat <count>', 'CHORUS_MAX_MEMBERS_PER_CHAT', `members one chat may have (default ${DEFAULTS.membersPerChat})`],
  ['--tls', 'CHORUS_TLS', 'speak TLS on a loopback address too (beyond loopback it always does); CHORUS_TLS=1'],
  ['--tls-cert <file>', 'CHORUS_TLS_CERT', 'your own TLS certificate (PEM), with --tls-key (default: a self-signed one made in the data folder)'],
  ['--tls-key <file>', 'CHORUS_TLS_KEY', 'the private key (PEM, unencrypted) of --tls-cert'],
  ['--nats-url <url>', 'CHORUS_NATS_URL', 'cluster mode: one of several servers sharing --database-url and this NATS (nats://host:4222)'],
  ['--site <name>', 'CHORUS_SITE', "cluster mode: this server's site (its subnet), for logs (default: the host name)"],
  ['--lease-ttl <duration>', 'CHORUS_LEASE_TTL', 'cluster mode: how long a stopped server keeps its chats before another takes them (default 6s)'],
];

export function registerServerCommand(program: Command): void {
  const command = program
    .command('server')
    .description('run a Chorus server in the foreground (Ctrl-C stops it cleanly)')
    .addHelpText(
      'after',
      `
Flags win over environment variables, which win over the defaults. The defaults reach no one but
this machine; to serve a LAN, listen on this machine's LAN address and send multicast from it:
  chorus server --host 192.168.1.20 --multicast-interface 192.168.1.20
Beyond loopback both ports speak TLS. Without --tls-cert the server makes a self-signed
certificate in its data folder on first start and prints its fingerprint: tell it to your users,
who check it when they first log in (chorus login --server https://… --fingerprint …).

Cluster mode: one server per subnet, all on one PostgreSQL and one NATS; a message sent at any
site is sequenced once and multicast at every site (docs/architecture.md, The cluster):
  chorus server --database-url postgres://chorus@db/chorus --nats-url nats://bus:4222 --site north \\
                --host 10.1.0.5 --multicast-interface 10.1.0.5`,
    );
  for (const [flags, env, description] of OPTIONS) command.addOption(new Option(flags, description).env(env));
  command.action(async (options: ServerOptions, cmd: Command) => {
    // Commander sets a boolean from a variable by its mere presence: keep the text to check it.
    if (cmd.getOptionValueSource('tls') === 'env') options.tls = process.env.CHORUS_TLS ?? '';
    const config = serverConfigFrom(options, (key) => sourceName(cmd, key));
    let server: RunningServer;
    try {
      // Loaded only here: the other commands need none of the server's dependencies.
      const { startServer } = await import('../server/compose.js');
      server = await startServer(config);
    } catch (error) {
      throw new CliError(startFailure(error, config));
    }
    // Before the address is printed: whoever reads it may stop us at once.
    stopOnSignals([server], 'stopping (finishing requests in flight)');
    const storage = config.database.engine === 'sqlite' ? `data in ${config.dataDir}` : 'data in PostgreSQL';
    const tls = server.tlsFingerprint ? ', both over TLS' : '';
    process.stdout.write(`Chorus server listening on ${server.httpUrl} (HTTP API) and TCP port ${server.tcpPort}${tls}; ${storage}\n`);
    if (server.cluster) process.stdout.write(`Cluster mode: server ${server.cluster.serverId} of site ${server.cluster.site}; the bus is NATS\n`);
    if (server.tlsFingerprint) {
      process.stdout.write(`TLS certificate fingerprint (SHA-256): ${server.tlsFingerprint}\n`);
      process.stdout.write(`Clients check it at their first login: chorus login --server ${server.httpUrl} --fingerprint ${server.tlsFingerprint}\n`);
    }
  });
}

/** Validates every setting; an invalid one is a usage error naming the flag or variable it came from. */
export function serverConfigFrom(options: ServerOptions, nameOf: (key: keyof ServerOptions) => string): ServerConfig {
  const invalid = (key: keyof ServerOptions, why: string, showValue = true) =>
    usageError(`invalid ${nameOf(key)}${showValue ? ` "${String(options[key]).slice(0, 80)}"` : ''}: ${why}`);

  const port = (key: 'httpPort' | 'tcpPort', fallback: number) => {
    const value = options[key];
    if (value === undefined) return fallback;
    if (!/^\d{1,5}$/.test(value.trim()) || Number(value) > 65535) throw invalid(key, 'give a port number from 1 to 65535 (0 picks a free one)');
    return Number(value);
  };

  const host = options.host ?? DEFAULTS.host;
  if (host.trim() === '') throw invalid('host', 'give an address such as 127.0.0.1 or 0.0.0.0');

  const logLevel = options.logLevel ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) throw invalid('logLevel', `give one of ${LOG_LEVELS.join(', ')}`);

  let database: ServerConfig['database'] = { engine: 'sqlite' };
  if (options.databaseUrl !== undefined && options.databaseUrl !== '') {
    // The URL may hold a password: the error does not repeat it.
    if (!/^postgres(ql)?:\/\/\S+$/.test(options.databaseUrl)) throw invalid('databaseUrl', 'give a postgres://user@host/database URL', false);
    database = { engine: 'postgres', url: options.databaseUrl };
  }

  let sessionTtlSeconds: number = DEFAULTS.sessionTtlSeconds;
  if (options.sessionTtl !== undefined) {
    const seconds = durationSeconds(options.sessionTtl);
    if (seconds === undefined) throw invalid('sessionTtl', 'give seconds, or a number with s, m, h or d, e.g. 12h or 30d');
    sessionTtlSeconds = seconds;
  }

  // Whole numbers within bounds, for the abuse limits.
  const count = (key: 'messageRate' | 'messageBurst' | 'maxChatsPerUser' | 'maxMembersPerChat', min: number, fallback: number) => {
    const value = options[key];
    if (value === undefined) return fallback;
    if (!/^\d{1,7}$/.test(value.trim()) || Number(value) < min) throw invalid(key, `give a whole number from ${min} to 9999999`);
    return Number(value);
  };
  const limits: ServerConfig['limits'] = {
    sendRate: { perSecond: count('messageRate', 0, DEFAULT_SEND_RATE.perSecond), burst: count('messageBurst', 1, DEFAULT_SEND_RATE.burst) },
    chatsPerUser: count('maxChatsPerUser', 1, DEFAULTS.chatsPerUser),
    membersPerChat: count('maxMembersPerChat', 1, DEFAULTS.membersPerChat),
  };

  const cluster = clusterConfig(options, database, invalid);
  return defaultServerConfig({
    ...(cluster ? { cluster } : {}),
    limits,
    tls: tlsConfig(options, invalid),
    dataDir: resolve(options.data ?? DEFAULTS.dataDir),
    host,
    httpPort: port('httpPort', DEFAULTS.httpPort),
    tcpPort: port('tcpPort', DEFAULTS.tcpPort),
    sessionTtlSeconds,
    database,
    logLevel: logLevel as ServerConfig['logLevel'],
    multicast: {
      groups: options.multicastGroups === undefined ? DEFAULTS.multicastGroups : multicastRange(options.multicastGroups, (why) => invalid('multicastGroups', why)),
      ports: options.multicastPorts === undefined ? { ...DEFAULTS.multicastPorts } : portRange(options.multicastPorts, (why) => invalid('multicastPorts', why)),
      interface: options.multicastInterface === undefined ? DEFAULTS.multicastInterface : ipv4(options.multicastInterface, (why) => invalid('multicastInterface', why)),
      ttl: options.multicastTtl === undefined ? DEFAULTS.multicastTtl : ttl(options.multicastTtl, (why) => invalid('multicastTtl', why)),
      // Unset: the fan-out paces for the interface (pacer.ts: defaultMulticastRate).
      ...(options.multicastRate === undefined ? {} : { rate: multicastRate(options.multicastRate, (why) => invalid('multicastRate', why)) }),
      ...(options.multicastDatagramBytes === undefined ? {} : { datagramBytes: datagramBytes(options.multicastDatagramBytes, (why) => invalid('multicastDatagramBytes', why)) }),
    },
  });
}

function tlsConfig(options: ServerOptions, invalid: (key: keyof ServerOptions, why: string) => CliError): TlsConfig {
  let force = options.tls === true;
  if (typeof options.tls === 'string') {
    if (/^(1|true|yes|on)$/i.test(options.tls.trim())) force = true;
    else if (!/^(0|false|no|off|)$/i.test(options.tls.trim())) throw invalid('tls', 'give 1 or 0');
  }
  const cert = options.tlsCert?.trim() || undefined;
  const key = options.tlsKey?.trim() || undefined;
  if ((cert === undefined) !== (key === undefined)) {
    throw usageError(`give both --tls-cert and --tls-key (or CHORUS_TLS_CERT and CHORUS_TLS_KEY), or neither for a self-signed certificate`);
  }
  return cert && key ? { force, files: { cert: resolve(cert), key: resolve(key) } } : { force };
}

/** Cluster mode when a NATS URL is given; it needs PostgreSQL, which all the servers share. */
function clusterConfig(options: ServerOptions, database: ServerConfig['database'], invalid: (key: keyof ServerOptions, why: string, showValue?: boolean) => CliError): ClusterConfig | undefined {
  if (options.natsUrl === undefined || options.natsUrl === '') {
    if (options.site !== undefined || options.leaseTtl !== undefined) throw usageError('--site and --lease-ttl are for cluster mode: give --nats-url too');
    return undefined;
  }
  // The URL may hold a password: the error does not repeat it.
  if (!/^(nats|tls):\/\/\S+$/.test(options.natsUrl)) throw invalid('natsUrl', 'give a nats://host:port URL', false);
  if (database.engine !== 'postgres') throw usageError('cluster mode (--nats-url) needs --database-url: every server of a cluster shares one PostgreSQL');
  const site = options.site ?? hostname();
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$/.test(site)) throw invalid('site', 'give letters, digits, dot, dash or underscore (at most 40)');
  let leaseTtlMs = DEFAULT_LEASE_TTL_MS;
  if (options.leaseTtl !== undefined) {
    const seconds = durationSeconds(options.leaseTtl);
    if (seconds === undefined || seconds > 600) throw invalid('leaseTtl', 'give seconds from 1 to 600, e.g. 6s');
    leaseTtlMs = seconds * 1000;
  }
  return { natsUrl: options.natsUrl, site, leaseTtlMs };
}

/** "--http-port" or "CHORUS_HTTP_PORT", whichever the value came from. */
function sourceName(command: Command, key: string): string {
  const option = command.options.find((o) => o.attributeName() === key);
  if (!option) return key;
  return command.getOptionValueSource(key) === 'env' && option.envVar ? option.envVar : (option.long ?? key);
}

const UNIT_SECONDS: Record<string, number> = { '': 1, s: 1, m: 60, h: 3600, d: 86400 };

function durationSeconds(value: string): number | undefined {
  const match = /^(\d+)\s*([smhd]?)$/.exec(value.trim());
  if (!match) return undefined;
  const seconds = Number(match[1]) * UNIT_SECONDS[match[2]!]!;
  return seconds >= 1 && Number.isSafeInteger(seconds) ? seconds : undefined;
}

type Refuse = (why: string) => CliError;

function multicastRange(value: string, refuse: Refuse): string {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(value.trim());
  const octets = match?.slice(1, 5).map(Number) ?? [];
  const prefix = Number(match?.[5]);
  if (!match || octets.some((o) => o > 255) || prefix > 32) throw refuse('give a CIDR range such as 239.255.0.0/16');
  if (prefix < 4 || octets[0]! < 224 || octets[0]! > 239) throw refuse('multicast groups must lie within 224.0.0.0/4 (e.g. 239.255.0.0/16)');
  const address = octets.reduce((acc, o) => acc * 256 + o, 0);
  const size = 2 ** (32 - prefix);
  const network = address - (address % size);
  if (network !== address) {
    const text = [24, 16, 8, 0].map((shift) => Math.floor(network / 2 ** shift) % 256).join('.');
    throw refuse(`the address has bits set beyond the prefix: did you mean ${text}/${prefix}?`);
  }
  return `${octets.join('.')}/${prefix}`;
}

function portRange(value: string, refuse: Refuse): { first: number; last: number } {
  const match = /^(\d{1,5})(?:\s*-\s*(\d{1,5}))?$/.exec(value.trim());
  const first = Number(match?.[1]);
  const last = Number(match?.[2] ?? match?.[1]);
  if (!match || first < 1 || last > 65535 || first > last) throw refuse(`give a range of UDP ports FIRST-LAST within 1-65535, e.g. ${MC_FIRST}-${MC_LAST}`);
  return { first, last };
}

function ipv4(value: string, refuse: Refuse): string {
  if (!isIPv4(value.trim())) throw refuse('give the IPv4 address of one of this machine\'s interfaces, e.g. 127.0.0.1');
  return value.trim();
}

function ttl(value: string, refuse: Refuse): number {
  if (!/^\d{1,3}$/.test(value.trim()) || Number(value) > 255) throw refuse('give a whole number from 0 to 255');
  return Number(value);
}

/** "12,2000": megabits and datagrams per second; "0": unpaced. */
function multicastRate(value: string, refuse: Refuse): MulticastRate {
  if (/^\s*0\s*$/.test(value)) return { bytesPerSecond: 0, datagramsPerSecond: 0 };
  const match = /^\s*(\d{1,5}(?:\.\d{1,3})?)\s*,\s*(\d{1,7})\s*$/.exec(value);
  const mbit = Number(match?.[1]);
  const datagrams = Number(match?.[2]);
  if (!match || mbit < 0.1 || mbit > 100_000 || datagrams < 1) {
    throw refuse(`give megabits per second (0.1 or more) and datagrams per second (1 or more), e.g. ${MC_RATE_DEFAULT}, or 0 for no pacing`);
  }
  return { bytesPerSecond: Math.round((mbit * 1e6) / 8), datagramsPerSecond: datagrams };
}

function datagramBytes(value: string, refuse: Refuse): number {
  const bytes = Number(value.trim());
  if (!/^\d{1,6}$/.test(value.trim()) || bytes < MAX_DATAGRAM_BYTES || bytes > LARGEST_DATAGRAM_BYTES) {
    throw refuse(`give a whole number of bytes from ${MAX_DATAGRAM_BYTES} to ${LARGEST_DATAGRAM_BYTES} (1472 for Ethernet without fragments)`);
  }
  return bytes;
}

function startFailure(error: unknown, config: ServerConfig): string {
  const e = error as NodeJS.ErrnoException & { port?: number; address?: string };
  const where = e.port !== undefined ? `${e.address ?? config.host}:${e.port}` : config.host;
  switch (e.code) {
    case 'EADDRINUSE':
      return `cannot start the server: ${where} is already in use (choose another port with --http-port or --tcp-port)`;
    case 'EACCES':
      return `cannot start the server: not allowed to listen on ${where} (ports below 1024 need privileges)`;
    case 'EADDRNOTAVAIL':
      return `cannot start the server: ${config.host} is not an address of this machine (--host)`;
  }
  return `cannot start the server: ${e instanceof Error ? e.message : String(e)}`;
}

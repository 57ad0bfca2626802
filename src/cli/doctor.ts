import { networkInterfaces } from 'node:os';
import type { Command } from 'commander';
import { type ApiClient, type Chat, isSessionEnded } from '../client/api.js';
import { ingestEndpoint } from '../client/ingest-endpoint.js';
import { RECEIVE_BUFFER_BYTES, grantedReceiveBuffer } from '../client/group-sockets.js';
import { type DeliveryState, MulticastJoinError, Receiver } from '../client/receiver.js';
import { apiReceiverSource } from '../client/receiver-source.js';
import { Sender } from '../client/sender.js';
import type { Profile } from '../client/profile.js';
import { pinnedServerKey } from '../client/server-key.js';
import { DEFAULT_MULTICAST_INTERFACE } from '../protocol/defaults.js';
import { ChorusError, isWireCode } from '../protocol/errors.js';
import { PROBE_TIMEOUT_MS } from '../protocol/limits.js';
import { profileDirOf, requireSession } from './account.js';
import { chorusCommand, loginCommand } from './invocation.js';
import { chatCodeArgument, multicastInterface } from './options.js';
import { EXIT_REFUSED, describeFailure, terminalSafe } from './output.js';
import { isLoopbackHost } from '../protocol/loopback.js';

/**
 * `chorus doctor`: a self-test for a person whose messages do not arrive. It walks the path a
 * message takes to this computer (the server over HTTP, the session, the TCP connection and its
 * TLS pin, the multicast interface, the chat's group, a probe the server multicasts back), says
 * what each step found, and ends with the verdict: multicast works, or messages will come
 * through the server, with the likely cause and what to try. It never prints the token.
 */

export type CheckStatus = 'ok' | 'fail' | 'skip';

export interface Check {
  id: 'http' | 'tls' | 'session' | 'server-key' | 'tcp' | 'interface' | 'chat' | 'join' | 'probe';
  title: string;
  status: CheckStatus;
  detail: string;
}

export interface DoctorReport {
  server: string;
  chat: string | null;
  interface: { address: string; name: string | null };
  /** Whether multicast reaches this computer; null when it could not be tested (no chat, no server). */
  multicast: boolean | null;
  /** How this chat's messages reach this computer; null when it could not be told. */
  delivery: 'multicast' | 'server' | null;
  /** Why messages come through the server, or why nothing could be told; '' when multicast works. */
  reason: string;
  verdict: string;
  /** What to try, most likely first. */
  hints: string[];
  checks: Check[];
}

/** How long the first verdict may take: the receiver's probe timeout and one more, for a retry. */
export const VERDICT_WAIT_MS = 2 * PROBE_TIMEOUT_MS;

const SYMBOL: Record<CheckStatus, string> = { ok: '✓', fail: '✗', skip: '–' };

interface DoctorOptions {
  json?: boolean;
  chat?: string;
  multicastInterface?: string;
}

export function registerDoctorCommand(program: Command, env: NodeJS.ProcessEnv): void {
  program
    .command('doctor')
    .description('check why messages may not arrive: the server, the session, the connection, multicast on this computer')
    .option('--chat <code>', "the chat to test multicast with (default: your first chat)")
    .option('--multicast-interface <address>', `IPv4 address of this machine's interface to receive multicast on (default ${DEFAULT_MULTICAST_INTERFACE}), as tail, chat and client take it`)
    .option('--json', 'print one JSON object: {"multicast","delivery","reason","verdict","hints","checks":[{"id","title","status","detail"}],…}')
    .addHelpText(
      'after',
      `
Checks, in the order a message travels: the server answers over HTTP (GET /api/server, with
the certificate pinned in the profile when it is https://), the session is valid, the TCP port
welcomes us, the multicast interface in use and its address, joining the chat's group, and a
probe: the server multicasts a signed datagram to the chat's group, which must come back within
${PROBE_TIMEOUT_MS / 1000} s. Each check prints one line (✓ passed, ✗ failed, – skipped), then the verdict:
  multicast works                      messages reach this computer directly
  messages will come through the server  multicast does not reach this computer; the server
                                       sends them over the TCP connection instead (nothing is
                                       lost), and the likely cause with what to try
Exit 0 when messages can be delivered either way; 1 when the server cannot be reached, or the
session is not valid (log in again). With no chat yet, the multicast checks are skipped.
  chorus doctor
  chorus doctor --chat ABCDE-12345 --multicast-interface 192.168.1.31 --json`,
    )
    .action(async (options: DoctorOptions, command: Command) => {
      const interfaceAddress = multicastInterface(options.multicastInterface ?? DEFAULT_MULTICAST_INTERFACE);
      const chat = options.chat === undefined ? undefined : chatCodeArgument(options.chat);
      const { client, profile } = await requireSession(command, env);
      const report = await diagnose({ client, profileDir: profileDirOf(command, env), profile, chat, interfaceAddress });
      if (options.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      else process.stdout.write(`${humanReport(report).join('\n')}\n`);
      if (!canDeliver(report)) process.exitCode = EXIT_REFUSED;
    });
}

/** Messages can be delivered (by multicast or by the server) unless the server or the session failed. */
export function canDeliver(report: DoctorReport): boolean {
  return !report.checks.some((c) => c.status === 'fail' && (c.id === 'http' || c.id === 'session' || c.id === 'server-key' || c.id === 'tcp'));
}

interface Diagnosis {
  client: ApiClient;
  profileDir: string;
  profile: Profile;
  chat: string | undefined;
  interfaceAddress: string;
}

/** Runs the checks in order; a failure that makes the later ones meaningless stops there. */
async function diagnose({ client, profileDir, profile, chat: chosen, interfaceAddress }: Diagnosis): Promise<DoctorReport> {
  const checks: Check[] = [];
  const add = (check: Check) => checks.push({ ...check, detail: terminalSafe(check.detail) });
  const iface = interfaceNamed(interfaceAddress);
  const report = (rest: Pick<DoctorReport, 'multicast' | 'delivery' | 'reason' | 'verdict' | 'hints'> & { chat?: string | null }): DoctorReport => ({
    server: client.baseUrl,
    chat: rest.chat ?? chosen ?? null,
    interface: { address: interfaceAddress, name: iface.name },
    multicast: rest.multicast,
    delivery: rest.delivery,
    reason: rest.reason,
    verdict: rest.verdict,
    hints: rest.hints,
    checks,
  });
  const cannotTell = (reason: string, hints: string[]) =>
    report({ multicast: null, delivery: null, reason, verdict: `messages cannot be delivered: ${reason}`, hints });

  // 1. HTTP, with the profile's certificate pin (the API client refuses any other certificate).
  const https = client.baseUrl.startsWith('https:');
  let protocolVersion = 0;
  try {
    const info = await client.serverInfo();
    protocolVersion = info.protocolVersion;
    add({ id: 'http', title: 'server reachable over HTTP', status: 'ok', detail: `${client.baseUrl} answers (protocol ${info.protocolVersion}, messages on TCP port ${info.tcpPort})` });
  } catch (error) {
    add({ id: 'http', title: 'server reachable over HTTP', status: 'fail', detail: describeFailure(error).line });
    if (https) add(tlsCheck(https, profile.tlsFingerprint, error));
    return cannotTell(`the server at ${client.baseUrl} cannot be reached`, unreachableHints(client.baseUrl, error));
  }
  add(tlsCheck(https, profile.tlsFingerprint));

  // 2. The session, and the server's signing key (every datagram is checked against it).
  try {
    const me = await client.me();
    add({ id: 'session', title: 'session valid', status: 'ok', detail: `logged in as ${me.name} (${me.email})` });
  } catch (error) {
    add({ id: 'session', title: 'session valid', status: 'fail', detail: describeFailure(error).line });
    const ended = isSessionEnded(error);
    return cannotTell(ended ? 'the session has ended' : 'the session could not be checked', [ended ? `log in again: ${loginCommand()}` : 'try again in a moment']);
  }
  let serverKey: Awaited<ReturnType<typeof pinnedServerKey>>;
  try {
    serverKey = await pinnedServerKey(client, profile, profileDir);
    add({ id: 'server-key', title: "server's signing key", status: 'ok', detail: 'matches the one pinned at login' });
  } catch (error) {
    add({ id: 'server-key', title: "server's signing key", status: 'fail', detail: describeFailure(error).line });
    return cannotTell("the server's signing key is not the one pinned at login", ['ask the server\'s operator whether it was reinstalled; if so, log in again as the message says']);
  }

  // 3. TCP: the connection messages are sent on, and pushed on when multicast fails.
  const endpoint = await ingestEndpoint(client);
  const sender = new Sender({ ...endpoint, token: client.token ?? '' });
  const receivers: Receiver[] = [];
  try {
    try {
      await sender.connect();
      add({ id: 'tcp', title: 'TCP connection welcomed', status: 'ok', detail: `${endpoint.host}:${endpoint.port}${endpoint.tls ? ', over TLS with the pinned certificate' : ''}` });
    } catch (error) {
      const line = error instanceof ChorusError ? describeFailure(error).line : error instanceof Error ? error.message : String(error);
      add({ id: 'tcp', title: 'TCP connection welcomed', status: 'fail', detail: line });
      if (isSessionEnded(error)) return cannotTell('the session has ended', [`log in again: ${loginCommand()}`]);
      return cannotTell(`the server's TCP port cannot be reached (${line})`, [
        "a firewall between here and the server may block its TCP port: the HTTP port alone is not enough",
        'if the server has just restarted, try again in a moment',
      ]);
    }

    // 4. The interface multicast is received on.
    const lanServer = !isLoopbackHost(new URL(client.baseUrl).hostname);
    if (!iface.name) {
      add({ id: 'interface', title: 'multicast interface', status: 'fail', detail: `${interfaceAddress} is not an address of this computer${otherAddresses()}` });
    } else {
      const loopbackForLan = lanServer && iface.internal;
      add({
        id: 'interface',
        title: 'multicast interface',
        status: loopbackForLan ? 'fail' : 'ok',
        detail: `${interfaceAddress} (${iface.name}${iface.internal ? ', loopback' : ''})${loopbackForLan ? `: the server is on the network, but loopback only carries this computer's own traffic${otherAddresses()}` : ''}`,
      });
    }

    // 5. The chat to test with.
    let chat: Chat | undefined;
    try {
      chat = chosen ? await client.getChat(chosen) : (await client.listChats())[0];
    } catch (error) {
      add({ id: 'chat', title: 'chat to test with', status: 'fail', detail: describeFailure(error).line });
    }
    if (!chat) {
      if (!checks.some((c) => c.id === 'chat')) add({ id: 'chat', title: 'chat to test with', status: 'skip', detail: 'you are in no chat yet' });
      add({ id: 'join', title: "joining the chat's group", status: 'skip', detail: 'no chat' });
      add({ id: 'probe', title: 'probe through the server and back', status: 'skip', detail: 'no chat' });
      const hint = chosen
        ? `check the code, or join it first: ${chorusCommand(`join ${chosen}`)}`
        : `join a chat (${chorusCommand('join CODE')}) or create one, then run ${chorusCommand('doctor')} again`;
      return report({ chat: null, multicast: null, delivery: null, reason: 'no chat to test multicast with', verdict: 'the server and the session are fine; multicast was not tested (no chat)', hints: [hint] });
    }
    add({ id: 'chat', title: 'chat to test with', status: 'ok', detail: `"${chat.name}" (${chat.code}): group ${chat.multicast.group}, port ${chat.multicast.port}` });

    // 6 and 7. Join the group, and wait for the receiver's first verdict (its probe through the server).
    const receiver = new Receiver({ source: apiReceiverSource(client), serverKey, interfaceAddress, link: sender });
    receivers.push(receiver);
    const verdict = firstVerdict(receiver, chat.code);
    const started = Date.now();
    // With a link, a group that cannot be joined does not fail the join (the chat is pushed
    // instead): the receiver says so to its join-failure listeners.
    let joinError: MulticastJoinError | undefined;
    receiver.onJoinFailure((_, error) => (joinError ??= error));
    let joinFailure: string | undefined;
    try {
      await receiver.join(chat.code, { latest: 0 });
    } catch (error) {
      joinFailure = error instanceof Error ? error.message : String(error);
    }
    joinFailure ??= joinError?.message;
    if (joinFailure === undefined) add({ id: 'join', title: "joining the chat's group", status: 'ok', detail: `${chat.multicast.group}:${chat.multicast.port} on ${interfaceAddress}; ${await receiveBufferNote()}` });
    else add({ id: 'join', title: "joining the chat's group", status: 'fail', detail: joinFailure });
    const state = await verdict;
    const context: CauseContext = { joinError, interfaceAddress, interfaceName: iface.name, interfaceInternal: iface.internal, lanServer, group: chat.multicast.group, port: chat.multicast.port };
    if (!state) {
      const old = protocolVersion < 3;
      const reason = old
        ? `this server (protocol ${protocolVersion}) does not answer probes, and cannot push messages when multicast fails`
        : `no verdict within ${VERDICT_WAIT_MS / 1000} s`;
      add({ id: 'probe', title: 'probe through the server and back', status: 'fail', detail: reason });
      return report({ chat: chat.code, multicast: null, delivery: joinError ? null : 'multicast', reason, verdict: `could not tell whether multicast works: ${reason}`, hints: old ? ['ask its operator to update the server', ...likelyCauses(context)] : likelyCauses(context) });
    }
    if (state.path === 'multicast') {
      add({ id: 'probe', title: 'probe through the server and back', status: 'ok', detail: `came back by multicast (${Math.max(0, state.since - started)} ms)` });
      return report({ chat: chat.code, multicast: true, delivery: 'multicast', reason: '', verdict: 'multicast works: messages reach this computer directly', hints: [] });
    }
    add({ id: 'probe', title: 'probe through the server and back', status: 'fail', detail: state.reason || 'did not come back by multicast' });
    return report({
      chat: chat.code,
      multicast: false,
      delivery: 'server',
      reason: state.reason,
      verdict: `messages will come through the server: multicast does not reach this computer${state.reason ? ` (${state.reason})` : ''}. Nothing is lost: the server sends them over the TCP connection instead`,
      hints: likelyCauses(context),
    });
  } finally {
    for (const r of receivers) r.close();
    sender.close();
  }
}

/** Resolves with the chat's first DeliveryState, or undefined after VERDICT_WAIT_MS. */
function firstVerdict(receiver: Receiver, chat: string): Promise<DeliveryState | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(receiver.deliveryOf(chat)), VERDICT_WAIT_MS);
    receiver.onPathChange((state) => {
      if (state.chat !== chat) return;
      clearTimeout(timer);
      resolve(state);
    });
  });
}

function tlsCheck(https: boolean, fingerprint: string | undefined, error?: unknown): Check {
  const title = 'TLS certificate pinned';
  if (!https) return { id: 'tls', title, status: 'skip', detail: 'plain http:// server: no TLS (a server beyond loopback speaks https://)' };
  if (error instanceof ChorusError && error.code === 'CERTIFICATE_CHANGED') return { id: 'tls', title, status: 'fail', detail: error.message };
  if (!fingerprint) return { id: 'tls', title, status: 'fail', detail: `no certificate pinned for this server: log in again (${loginCommand()})` };
  if (error) return { id: 'tls', title, status: 'skip', detail: `pinned ${fingerprint}; not checked (the server did not answer)` };
  return { id: 'tls', title, status: 'ok', detail: `the server presents the pinned certificate ${fingerprint}` };
}

function unreachableHints(server: string, error: unknown): string[] {
  const code = error instanceof ChorusError ? error.code : undefined;
  if (code === 'CERTIFICATE_CHANGED') return ["ask the server's operator whether its certificate was replaced on purpose; if so, log in again with the new fingerprint"];
  if (isWireCode(code)) return ['the server answered with an error: try again in a moment, or ask its operator'];
  const hints = [`check that the server runs and that ${server} is its address (the profile's server; --server at login)`];
  if (code === 'UNREACHABLE') hints.push('a firewall, a VPN or another network (Wi-Fi for guests, say) may keep this computer from reaching it');
  return hints;
}

export interface CauseContext {
  joinError?: MulticastJoinError;
  interfaceAddress: string;
  interfaceName: string | null;
  interfaceInternal: boolean;
  /** The server is not on this computer (its address is not loopback). */
  lanServer: boolean;
  group: string;
  port: number;
}

/** What to try when multicast does not reach this computer, the most likely first. */
export function likelyCauses(c: CauseContext): string[] {
  const flag = (address: string) => `--multicast-interface ${address}`;
  const lan = lanAddresses();
  const suggestion = lan[0]?.address ?? 'YOUR-LAN-ADDRESS';
  const hints: string[] = [];
  if (!c.interfaceName) hints.push(`${c.interfaceAddress} is not an address of this computer: give ${flag(suggestion)} (one of this computer's addresses)`);
  else if (c.lanServer && c.interfaceInternal) hints.push(`multicast is received on loopback (${c.interfaceAddress}), which carries nothing from the network: give ${flag(suggestion)}, your address on the server's network`);
  if (c.joinError?.problem === 'port-in-use') hints.push(`another program holds UDP port ${c.port}: close it, or ask the operator for another port range (--multicast-ports)`);
  if (c.joinError?.problem === 'no-interface' && c.interfaceName) hints.push(`the interface ${c.interfaceName} (${c.interfaceAddress}) cannot join multicast groups: give ${flag(suggestion)} of another interface`);
  if (c.joinError?.problem === 'too-many-groups') hints.push('this computer has joined as many groups as it allows (net.ipv4.igmp_max_memberships on Linux)');
  hints.push(
    "Wi-Fi: many access points drop or rate-limit multicast; try a wired connection, or turn on multicast (IGMP snooping with a querier, 'multicast enhancement') on the access point",
    'Docker: a bridge network carries no multicast; run with --network host',
    `VPN: a VPN may take the route for multicast or drop it; try without it, or give the LAN interface's address: ${flag(suggestion)}`,
    `firewall: allow incoming UDP to ${c.group} port ${c.port} (the chat's group); on Windows, a "Public" network profile blocks it, and macOS asks for "local network" permission`,
  );
  return hints;
}

/** The human lines: one per check, then the verdict and what to try. */
export function humanReport(report: DoctorReport): string[] {
  const width = Math.max(...report.checks.map((c) => c.title.length));
  const lines = [`Chorus doctor: ${report.server}${report.chat ? `, chat ${report.chat}` : ''}`];
  for (const c of report.checks) lines.push(`  ${SYMBOL[c.status]} ${c.title.padEnd(width)}  ${terminalSafe(c.detail)}`);
  lines.push('', `Verdict: ${terminalSafe(report.verdict)}.`);
  if (report.hints.length > 0) {
    lines.push(report.delivery === 'server' ? 'Likely causes, and what to try:' : 'What to try:');
    for (const hint of report.hints) lines.push(`  - ${terminalSafe(hint)}`);
  }
  return lines;
}

interface InterfaceFound {
  name: string | null;
  internal: boolean;
}

function interfaceNamed(address: string): InterfaceFound {
  for (const [name, addresses] of Object.entries(networkInterfaces())) {
    const found = addresses?.find((a) => a.family === 'IPv4' && a.address === address);
    if (found) return { name, internal: found.internal };
  }
  return { name: null, internal: false };
}

/** This computer's IPv4 addresses on a network (not loopback). */
function lanAddresses(): { name: string; address: string }[] {
  return Object.entries(networkInterfaces()).flatMap(([name, addresses]) =>
    (addresses ?? []).filter((a) => a.family === 'IPv4' && !a.internal).map((a) => ({ name, address: a.address })),
  );
}

function otherAddresses(): string {
  const lan = lanAddresses();
  return lan.length === 0 ? '' : `; this computer's network addresses: ${lan.map((a) => `${a.address} (${a.name})`).join(', ')}`;
}

/** What the system grants the receiving sockets' buffer, and what to do when it caps it. */
async function receiveBufferNote(): Promise<string> {
  const granted = await grantedReceiveBuffer().catch(() => undefined);
  if (granted === undefined) return 'receive buffer unknown';
  const kib = (n: number) => `${Math.round(n / 1024)} KiB`;
  if (granted >= RECEIVE_BUFFER_BYTES) return `receive buffer ${kib(granted)}`;
  return `receive buffer ${kib(granted)} of ${kib(RECEIVE_BUFFER_BYTES)} asked (the system caps it, so a burst may overflow it and be repaired over HTTP; raise the cap with sudo sysctl -w net.core.rmem_max=${RECEIVE_BUFFER_BYTES})`;
}

// Members of one chat spread over sites (sites.ts), each a process in a host namespace of its
// site talking to its site's server (site-server.ts): the accounts and the chat made over the
// real HTTP API, receivers (fixtures/chorus-receive.ts) and senders (fixtures/chorus-send.ts).

import { ROOT, ReceiverProcess, SenderProcess, type Setup, childEnv, tsx } from './chorus-lan.js';
import type { SiteServer } from './site-server.js';

/** A member's name, from the host it runs in: one account per host. */
export const memberName = (host: string): string => `Member${host.toUpperCase()}`;

/**
 * Registers one account per host name (in any site: in cluster mode they share one database)
 * through `server`, lets the first host's member create a chat and the others join it. Runs in
 * `fromHost`, a host of the server's site.
 */
export async function setupChat(server: SiteServer, fromHost: string, hosts: string[]): Promise<Setup> {
  const { httpUrl, tlsFingerprint } = server.info;
  const run = await server.site.lan.exec(fromHost, tsx('chorus-setup.ts', httpUrl, ...hosts.map(memberName)), {
    cwd: ROOT,
    env: childEnv({ CHORUS_FINGERPRINT: tlsFingerprint }),
    timeoutMs: 60_000,
  });
  return JSON.parse(run.stdout.trim()) as Setup;
}

const tokenOf = (setup: Setup, host: string): string => {
  const user = setup.users[memberName(host)];
  if (!user) throw new Error(`no account for host ${host}`);
  return user.token;
};

/** The member of `host` receiving the chat from its site's server, on the host's own interface. */
export function startReceiver(server: SiteServer, host: string, setup: Setup): ReceiverProcess {
  const { lan } = server.site;
  const h = lan.host(host);
  const child = lan.spawn(h, tsx('chorus-receive.ts', server.info.httpUrl, setup.chat, h.address), {
    cwd: ROOT,
    env: childEnv({ CHORUS_TOKEN: tokenOf(setup, host), CHORUS_FINGERPRINT: server.info.tlsFingerprint }),
  });
  return new ReceiverProcess(h, child);
}

/**
 * The member of `host` sending textOf(first)..textOf(first+count-1) to its site's server over
 * TCP, pipelined, at `perSecond` (0: all at once), printing each acknowledgement.
 */
export function startSender(server: SiteServer, host: string, setup: Setup, first: number, count: number, perSecond = 0): SenderProcess {
  const { lan, serverAddress } = server.site;
  const argv = tsx('chorus-send.ts', serverAddress, String(server.info.tcpPort), setup.chat, String(first), String(count));
  const child = lan.spawn(host, argv, {
    cwd: ROOT,
    env: childEnv({
      CHORUS_TOKEN: tokenOf(setup, host),
      CHORUS_FINGERPRINT: server.info.tlsFingerprint,
      CHORUS_ACK_EVENTS: '1',
      CHORUS_SEND_RATE: String(perSecond),
    }),
  });
  return new SenderProcess(`${host} (site ${server.site.name})`, child);
}

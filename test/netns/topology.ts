// A small test LAN made of Linux network namespaces.
//
//   switch namespace:  br0 (Linux bridge, multicast snooping off) + one veth end per host
//   host namespaces:   lo + eth0 (the other veth end), 10.213.0.(10+i)/24,
//                      route 224.0.0.0/4 dev eth0
//
// Nothing is added to the machine's own network namespace: the bridge lives in a dedicated
// "switch" namespace, and each veth pair is created inside it with its peer moved straight into
// the host's namespace. The 10.213.0.0/24 subnet exists only inside these namespaces, so traffic
// sent to it can reach nothing but the namespaces the test created.
//
// Packet loss is made with nftables inside a host's namespace (table `inet chorus_loss`, a
// chain on the input hook), e.g. `udp dport 45000 numgen random mod 10 0 counter drop`.
//
// Every command is run with execFile/spawn and an argv array (no shell). Needs root, `ip`
// (iproute2) and `nft` (nftables); requireRoot() throws a clear error otherwise, so tests fail
// rather than skip where these are missing.

import { execFile, execFileSync, spawn as spawnChild, spawnSync } from 'node:child_process';
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';

export const SUBNET_PREFIX = '10.213.0.';
export const SUBNET_BITS = 24;
export const LOSS_TABLE = 'chorus_loss';

export interface LanHost {
  /** The name given to createLan (e.g. "a"). */
  name: string;
  /** The network namespace the host lives in (use with `ip netns exec`). */
  netns: string;
  /** The host's IPv4 address on eth0 (10.213.0.(10+i), or in the LAN's own subnetPrefix). */
  address: string;
  /** Always "eth0". */
  iface: string;
}

export interface ExecOptions {
  /** Written to the command's standard input, which is then closed. */
  input?: string;
  /** Extra environment variables (merged over process.env). */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Kill the command after this long (default 30 s). */
  timeoutMs?: number;
  /** Resolve with the exit code instead of rejecting when it is non-zero. */
  allowFail?: boolean;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  /** Exit code; null when killed by a signal. */
  code: number | null;
}

export interface LossSpec {
  /** Destination UDP port to drop; every UDP port when omitted. */
  port?: number;
  /** Drop about 1 in N (`numgen random mod N 0`); every matching datagram when omitted or 1. */
  everyNth?: number;
}

export interface LossRuleCounters {
  port?: number;
  everyNth?: number;
  /** Packets this rule dropped. */
  packets: number;
  bytes: number;
}

export interface LossCounters {
  /** Total packets dropped by all loss rules of the host. */
  dropped: number;
  rules: LossRuleCounters[];
}

export interface Lan {
  /** The hosts, in the order given to createLan. */
  hosts: LanHost[];
  /** The switch namespace (holds br0). */
  switchNetns: string;
  /** Look a host up by name; throws on an unknown name. */
  host(name: string): LanHost;
  /** Run a command inside a host's namespace and wait for it. Rejects on non-zero exit. */
  exec(host: string | LanHost, argv: string[], opts?: ExecOptions): Promise<ExecResult>;
  /**
   * Start a command inside a host's namespace (`ip netns exec NS argv...`). `ip netns exec`
   * execs the command in place, so the child's pid is the command's own pid. The process is
   * killed by destroy() if still running.
   */
  spawn(host: string | LanHost, argv: string[], opts?: SpawnOptions): ChildProcess;
  /** Add an nftables rule in the host's namespace dropping incoming UDP (see LossSpec). */
  dropIncomingUdp(host: string | LanHost, spec?: LossSpec): Promise<void>;
  /** Remove every loss rule of the host (deletes its `inet chorus_loss` table). */
  clearLoss(host: string | LanHost): Promise<void>;
  /** Read how many packets the host's loss rules dropped. */
  nftCounters(host: string | LanHost): Promise<LossCounters>;
  /** Kill spawned processes and delete every namespace of this LAN. Idempotent. */
  destroy(): Promise<void>;
}

export interface CreateLanOptions {
  /**
   * Namespace-name prefix, unique to the test file (e.g. "chorus-lan"). Namespaces are named
   * `${prefix}-${pid}-${n}-sw` and `${prefix}-${pid}-${n}-${host}`; on creation, leftovers with
   * this prefix whose pid is no longer running are deleted.
   */
  prefix: string;
  /** Host names: letters and digits, starting with a letter, at most 12 characters. */
  hosts: string[];
  /** Raise net.ipv4.igmp_max_memberships in each host (default 1024; the kernel's is 20). */
  igmpMaxMemberships?: number;
  /**
   * The /24 the hosts are numbered in, as its first three octets and a dot (default
   * SUBNET_PREFIX, 10.213.0.): host i gets .(10+i). Sites (sites.ts) give each LAN its own.
   */
  subnetPrefix?: string;
}

const DEFAULT_TIMEOUT_MS = 30_000;
let lanCounter = 0;

// --- running commands ------------------------------------------------------------------------

/**
 * Absolute path of a system tool: PATH first, then the sbin folders (a root shell started
 * without a login environment may lack /usr/sbin, where Debian puts `nft`). Falls back to the
 * bare name, so a missing tool fails with ENOENT naming it.
 */
export function toolPath(name: string): string {
  const dirs = [...(process.env['PATH'] ?? '').split(path.delimiter), '/usr/sbin', '/sbin', '/usr/bin', '/bin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return name;
}

const IP = (): string => toolPath('ip');
const NFT = (): string => toolPath('nft');

function run(file: string, args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      {
        encoding: 'utf8',
        timeout: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
        maxBuffer: 64 * 1024 * 1024,
        env: opts.env ? { ...process.env, ...opts.env } : process.env,
        cwd: opts.cwd,
        killSignal: 'SIGKILL',
      },
      (error, stdout, stderr) => {
        // execFile's error: `code` is the exit status (number), an errno string (spawn
        // failure, e.g. ENOENT), or null when the command was killed (timeout or signal).
        const errCode: unknown = error ? (error as { code?: unknown }).code : 0;
        if (typeof errCode !== 'number') {
          if (!opts.allowFail || typeof errCode === 'string') {
            reject(
              new Error(
                `command failed: ${[file, ...args].join(' ')}: ${error?.message ?? 'unknown error'}` +
                  (stderr ? `\n${stderr}` : ''),
              ),
            );
            return;
          }
          resolve({ stdout, stderr, code: null });
          return;
        }
        const code = errCode;
        if (code !== 0 && !opts.allowFail) {
          reject(
            new Error(
              `command exited ${code}: ${[file, ...args].join(' ')}` +
                (stderr.trim() ? `\n${stderr.trim()}` : ''),
            ),
          );
          return;
        }
        resolve({ stdout, stderr, code });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

/** Runs `ip` (iproute2) with these arguments. */
export function ip(args: string[], opts?: ExecOptions): Promise<ExecResult> {
  return run(IP(), args, opts);
}

/** Runs `ip` commands in one process (`ip [-n NS] -batch -`). */
export function ipBatch(netns: string | undefined, lines: string[]): Promise<ExecResult> {
  const args = netns ? ['-n', netns, '-batch', '-'] : ['-batch', '-'];
  return ip(args, { input: lines.join('\n') + '\n' });
}

// --- preconditions ---------------------------------------------------------------------------

/**
 * Throws a clear error unless this process is root and `ip` (iproute2) and `nft` (nftables)
 * can be run. Call it from beforeAll: a machine without them fails the tests, it does not skip.
 */
export function requireRoot(): void {
  const uid = typeof process.getuid === 'function' ? process.getuid() : -1;
  if (uid !== 0) {
    throw new Error(
      `network-namespace tests need root (uid is ${uid}); run them as root, as CI does ` +
        '(.ci/run), or run the other tests with `npx vitest run --exclude test/netns`',
    );
  }
  const tools: Array<[string, string[], string]> = [
    ['ip', ['-V'], 'iproute2'],
    ['nft', ['--version'], 'nftables'],
  ];
  for (const [cmd, args, pkg] of tools) {
    try {
      execFileSync(toolPath(cmd), args, { stdio: 'ignore', timeout: 10_000 });
    } catch (e) {
      throw new Error(
        `network-namespace tests need \`${cmd}\` (Debian package ${pkg}): ` +
          `\`apt-get install -y ${pkg}\` (.ci/run does it). Running it failed: ${(e as Error).message}`,
      );
    }
  }
}

// --- namespace bookkeeping -------------------------------------------------------------------

/** Names of the machine's named network namespaces (`ip netns list`). */
export async function listNetns(): Promise<string[]> {
  const { stdout } = await ip(['netns', 'list']);
  return stdout
    .split('\n')
    .map((line) => line.trim().split(/\s+/)[0] ?? '')
    .filter((name) => name.length > 0);
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Deletes namespaces `${prefix}-${pid}-...` left behind by processes that no longer run. */
export async function removeLeftovers(prefix: string): Promise<string[]> {
  const re = new RegExp(`^${escapeRegExp(prefix)}-(\\d+)-\\d+-`);
  const removed: string[] = [];
  for (const name of await listNetns()) {
    const m = re.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || pidAlive(pid)) continue;
    await ip(['netns', 'del', name], { allowFail: true });
    removed.push(name);
  }
  return removed;
}

export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface IpLinkJson {
  ifname?: string;
  operstate?: string;
  flags?: string[];
  linkinfo?: { info_slave_data?: { state?: string } };
}

// --- the LAN ---------------------------------------------------------------------------------

export async function createLan(options: CreateLanOptions): Promise<Lan> {
  requireRoot();
  const { prefix, hosts: hostNames, subnetPrefix = SUBNET_PREFIX } = options;
  if (!/^[a-zA-Z][a-zA-Z0-9_-]{0,31}$/.test(prefix)) throw new Error(`bad prefix ${prefix}`);
  if (!/^10\.\d{1,3}\.\d{1,3}\.$/.test(subnetPrefix)) throw new Error(`bad subnet prefix ${subnetPrefix}`);
  if (hostNames.length === 0 || hostNames.length > 200) throw new Error('need 1..200 hosts');
  const seen = new Set<string>();
  for (const h of hostNames) {
    if (!/^[a-zA-Z][a-zA-Z0-9]{0,11}$/.test(h)) throw new Error(`bad host name ${h}`);
    if (h === 'sw') throw new Error('host name "sw" is reserved for the switch');
    if (seen.has(h)) throw new Error(`duplicate host name ${h}`);
    seen.add(h);
  }

  await removeLeftovers(prefix);

  const base = `${prefix}-${process.pid}-${++lanCounter}`;
  const switchNetns = `${base}-sw`;
  const hosts: LanHost[] = hostNames.map((name, i) => ({
    name,
    netns: `${base}-${name}`,
    address: `${subnetPrefix}${10 + i}`,
    iface: 'eth0',
  }));
  const allNetns = [switchNetns, ...hosts.map((h) => h.netns)];
  const children = new Set<ChildProcess>();
  let destroyed = false;

  // Synchronous last-resort cleanup if the process exits without destroy().
  const onExit = (): void => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const ns of allNetns) spawnSync(IP(), ['netns', 'del', ns], { stdio: 'ignore' });
  };
  process.once('exit', onExit);

  const destroy = async (): Promise<void> => {
    if (destroyed) return;
    destroyed = true;
    process.removeListener('exit', onExit);
    const running = [...children].filter((c) => c.exitCode === null && c.signalCode === null);
    await Promise.all(
      running.map(
        (c) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(() => {
              c.kill('SIGKILL');
              resolve();
            }, 2_000);
            c.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            c.kill('SIGTERM');
          }),
      ),
    );
    children.clear();
    const present = new Set(await listNetns().catch(() => allNetns));
    for (const ns of allNetns) {
      if (present.has(ns)) await ip(['netns', 'del', ns], { allowFail: true });
    }
  };

  try {
    // Namespaces.
    for (const ns of allNetns) await ip(['netns', 'add', ns]);

    // The switch: a bridge that floods multicast (no snooping, so no IGMP querier needed),
    // no STP, so ports forward as soon as their link is up.
    const swLines = [
      'link set lo up',
      'link add br0 type bridge stp_state 0 mcast_snooping 0',
      'link set br0 up',
    ];
    hosts.forEach((h, i) => {
      // Created inside the switch namespace; the peer goes straight to the host's namespace.
      swLines.push(`link add v${i} type veth peer name eth0 netns ${h.netns}`);
      swLines.push(`link set v${i} master br0`);
      swLines.push(`link set v${i} up`);
    });
    await ipBatch(switchNetns, swLines);

    // The hosts.
    for (const h of hosts) {
      await ipBatch(h.netns, [
        'link set lo up',
        `addr add ${h.address}/${SUBNET_BITS} dev eth0`,
        'link set eth0 up',
        // Multicast sent without IP_MULTICAST_IF leaves through eth0 (there is no default route).
        'route add 224.0.0.0/4 dev eth0',
      ]);
      // Reverse-path filtering off (a multicast datagram's source is on-link anyway, but a
      // namespace can inherit rp_filter=1/2 from the host on some kernels), and room for more
      // than the kernel's default of 20 multicast groups per socket.
      await ip([
        'netns', 'exec', h.netns, 'tee',
        '/proc/sys/net/ipv4/conf/all/rp_filter',
        '/proc/sys/net/ipv4/conf/default/rp_filter',
        '/proc/sys/net/ipv4/conf/eth0/rp_filter',
      ], { input: '0\n' });
      await ip([
        'netns', 'exec', h.netns, 'tee', '/proc/sys/net/ipv4/igmp_max_memberships',
      ], { input: `${options.igmpMaxMemberships ?? 1024}\n` });
    }

    // Wait until every link is up and every bridge port forwards.
    await waitFor('bridge ports to forward', async () => {
      const { stdout } = await ip(['-n', switchNetns, '-j', '-d', 'link', 'show', 'master', 'br0']);
      const ports = JSON.parse(stdout) as IpLinkJson[];
      return (
        ports.length === hosts.length &&
        ports.every(
          (p) => p.operstate === 'UP' && p.linkinfo?.info_slave_data?.state === 'forwarding',
        )
      );
    });
    for (const h of hosts) {
      await waitFor(`eth0 of ${h.name} to come up`, async () => {
        const { stdout } = await ip(['-n', h.netns, '-j', 'link', 'show', 'dev', 'eth0']);
        const [link] = JSON.parse(stdout) as IpLinkJson[];
        return link?.operstate === 'UP';
      });
    }
  } catch (e) {
    await destroy();
    throw e;
  }

  const byName = new Map(hosts.map((h) => [h.name, h]));
  const resolveHost = (host: string | LanHost): LanHost => {
    const name = typeof host === 'string' ? host : host.name;
    const h = byName.get(name);
    if (!h) throw new Error(`unknown host ${name} (hosts: ${hostNames.join(', ')})`);
    return h;
  };
  const nft = (host: string | LanHost, args: string[], opts?: ExecOptions): Promise<ExecResult> =>
    ip(['netns', 'exec', resolveHost(host).netns, NFT(), ...args], opts);

  return {
    hosts,
    switchNetns,
    host: resolveHost,

    exec(host, argv, opts) {
      if (destroyed) return Promise.reject(new Error('LAN destroyed'));
      if (argv.length === 0) return Promise.reject(new Error('empty argv'));
      return ip(['netns', 'exec', resolveHost(host).netns, ...argv], opts);
    },

    spawn(host, argv, opts = {}) {
      if (destroyed) throw new Error('LAN destroyed');
      if (argv.length === 0) throw new Error('empty argv');
      const child = spawnChild(IP(), ['netns', 'exec', resolveHost(host).netns, ...argv], {
        stdio: 'pipe',
        ...opts,
        shell: false,
      });
      children.add(child);
      child.once('exit', () => children.delete(child));
      return child;
    },

    async dropIncomingUdp(host, spec = {}) {
      const { port, everyNth } = spec;
      if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) {
        throw new Error(`bad port ${port}`);
      }
      if (everyNth !== undefined && !(Number.isInteger(everyNth) && everyNth >= 1)) {
        throw new Error(`bad everyNth ${everyNth}`);
      }
      const nth = everyNth !== undefined && everyNth > 1 ? everyNth : undefined;
      const match = ['meta', 'l4proto', 'udp'];
      if (port !== undefined) match.push('udp', 'dport', String(port));
      if (nth !== undefined) match.push('numgen', 'random', 'mod', String(nth), '0');
      const comment = `chorus:port=${port ?? 'any'}:nth=${nth ?? 1}`;
      await nft(host, ['-f', '-'], {
        input:
          `table inet ${LOSS_TABLE} {\n` +
          `  chain input { type filter hook input priority 0; policy accept; }\n` +
          `}\n` +
          `add rule inet ${LOSS_TABLE} input ${match.join(' ')} counter drop comment "${comment}"\n`,
      });
    },

    async clearLoss(host) {
      // Declaring the table first makes the delete succeed whether or not it existed.
      await nft(host, ['-f', '-'], {
        input: `table inet ${LOSS_TABLE}\ndelete table inet ${LOSS_TABLE}\n`,
      });
    },

    async nftCounters(host) {
      const res = await nft(host, ['-j', 'list', 'table', 'inet', LOSS_TABLE], { allowFail: true });
      if (res.code !== 0) {
        if (/No such file or directory|does not exist/i.test(res.stderr)) return { dropped: 0, rules: [] };
        throw new Error(`nft list failed: ${res.stderr.trim()}`);
      }
      return parseLossCounters(res.stdout);
    },

    destroy,
  };
}

interface NftJsonRule {
  comment?: string;
  expr?: Array<Record<string, unknown>>;
}

function parseLossCounters(json: string): LossCounters {
  const doc = JSON.parse(json) as { nftables?: Array<{ rule?: NftJsonRule }> };
  const rules: LossRuleCounters[] = [];
  for (const item of doc.nftables ?? []) {
    const rule = item.rule;
    if (!rule) continue;
    const m = /^chorus:port=(\w+):nth=(\d+)$/.exec(rule.comment ?? '');
    let packets = 0;
    let bytes = 0;
    for (const e of rule.expr ?? []) {
      const c = e['counter'] as { packets?: number; bytes?: number } | undefined;
      if (c) {
        packets += c.packets ?? 0;
        bytes += c.bytes ?? 0;
      }
    }
    const r: LossRuleCounters = { packets, bytes };
    if (m && m[1] !== 'any') r.port = Number(m[1]);
    if (m && m[2] !== '1') r.everyNth = Number(m[2]);
    rules.push(r);
  }
  return { dropped: rules.reduce((s, r) => s + r.packets, 0), rules };
}

// --- helpers for tests -------------------------------------------------------------------------

/**
 * Resolves with the first JSON object printed on its own stdout line by `child` that satisfies
 * `match` (every line is tried; non-JSON lines are ignored). Rejects if the child exits first or
 * after `timeoutMs`. The child's stderr is included in the error to make failures readable.
 */
export function nextJson<T = Record<string, unknown>>(
  child: ChildProcess,
  match: (value: T) => boolean = () => true,
  timeoutMs = 10_000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const out = child.stdout;
    if (!out) {
      reject(new Error('child has no stdout pipe'));
      return;
    }
    let buf = '';
    let stderr = '';
    const onErr = (d: Buffer | string): void => {
      stderr += d.toString();
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      out.off('data', onData);
      child.stderr?.off('data', onErr);
      child.off('close', onExit);
    };
    const onData = (d: Buffer | string): void => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!line.startsWith('{')) continue;
        let value: T;
        try {
          value = JSON.parse(line) as T;
        } catch {
          continue;
        }
        if (match(value)) {
          cleanup();
          resolve(value);
          return;
        }
      }
    };
    // 'close' (not 'exit') so that everything the child printed has been read first.
    const onExit = (code: number | null, signal: string | null): void => {
      cleanup();
      reject(new Error(`process exited (${code ?? signal}) before the expected output${stderr ? `:\n${stderr}` : ''}`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for output${stderr ? `:\n${stderr}` : ''}`));
    }, timeoutMs);
    out.setEncoding('utf8');
    out.on('data', onData);
    child.stderr?.on('data', onErr);
    child.once('close', onExit);
  });
}

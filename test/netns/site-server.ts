// A site's Chorus server (`chorus server`) as a process of its own in the machine's network
// namespace, listening and multicasting on its site's link (sites.ts): alone on a SQLite data
// folder, or in cluster mode with PostgreSQL and NATS on 127.0.0.1. Its JSON log (pino, on
// stdout) is kept, so a test can read what it said (who it is, the leases it lost).

import { type ChildProcess, spawn } from 'node:child_process';
import { get } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { JsonLines, MAIN, NODE, ROOT, childEnv } from './chorus-lan.js';
import type { Site } from './sites.js';
import { toolPath } from './topology.js';

export interface ClusterSettings {
  databaseUrl: string;
  natsUrl: string;
  /** e.g. "3s": shorter leases, so that takeovers happen within a test. */
  leaseTtl?: string;
}

/** The server's "chorus server listening" log line. */
export interface Listening {
  httpUrl: string;
  tcpPort: number;
  tlsFingerprint: string;
  /** In cluster mode: the server's id (what chats.lease_owner holds) and its site. */
  serverId?: string;
  site?: string;
}

export type LogLine = { level: number; time: number; msg: string } & Record<string, unknown>;

export class SiteServer {
  readonly child: ChildProcess;
  /** Every JSON line it printed, in order. */
  readonly log: LogLine[] = [];
  stderr = '';
  /** Resolves with its listening line; rejects if it exits first or takes over 60 s. */
  readonly ready: Promise<Listening>;
  private listening: Listening | undefined;
  private onListening: (listening: Listening) => void = () => {};
  private readonly output = new JsonLines();

  constructor(
    readonly site: Site,
    dataDir: string,
    cluster?: ClusterSettings,
  ) {
    const clusterArgs = cluster
      ? ['--database-url', cluster.databaseUrl, '--nats-url', cluster.natsUrl, '--site', site.name, ...(cluster.leaseTtl ? ['--lease-ttl', cluster.leaseTtl] : [])]
      : [];
    // Through `setpriv --pdeathsig KILL` (util-linux), which execs the server in place: should
    // the test process be killed outright, the kernel kills the server too.
    const setpriv = toolPath('setpriv');
    const [command, ...prefix] = setpriv.startsWith('/') ? [setpriv, '--pdeathsig', 'KILL', NODE] : [NODE];
    this.child = spawn(
      command!,
      [
        ...prefix,
        '--import', 'tsx', MAIN, 'server',
        '--data', dataDir,
        '--host', site.serverAddress,
        '--http-port', '0',
        '--tcp-port', '0',
        '--multicast-interface', site.serverAddress,
        '--multicast-ttl', '1',
        // One sender pushes a whole burst: these tests are about delivery, not the abuse limit.
        '--message-rate', '0',
        '--log-level', 'info',
        ...clusterArgs,
      ],
      { cwd: ROOT, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    // Should the test process exit without stop() (a failed hook, a timeout), the server ends with it.
    const onExit = (): void => void this.child.kill('SIGKILL');
    process.once('exit', onExit);
    this.child.once('exit', () => process.removeListener('exit', onExit));
    this.child.stderr!.setEncoding('utf8').on('data', (s: string) => (this.stderr += s));
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => this.onData(chunk));
    this.ready = new Promise<Listening>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server of site ${site.name} not listening after 60 s:\n${this.stderr}`)), 60_000);
      this.onListening = (listening) => {
        clearTimeout(timer);
        resolve(listening);
      };
      this.child.once('close', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`server of site ${site.name} exited (${code ?? signal}) before it listened:\n${this.stderr}\n${this.tail(20)}`));
      });
    });
    // A rejection nobody awaits yet (the test awaits ready later) is not an unhandled one.
    this.ready.catch(() => {});
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Its listening line; throws before it listens. */
  get info(): Listening {
    if (!this.listening) throw new Error(`server of site ${this.site.name} is not listening yet`);
    return this.listening;
  }

  signal(name: 'SIGKILL' | 'SIGSTOP' | 'SIGCONT' | 'SIGTERM'): void {
    this.child.kill(name);
  }

  /** SIGTERM, then SIGKILL after 5 s (resumed first, in case it was stopped). Resolves once it is gone. */
  async stop(): Promise<void> {
    if (!this.running) return;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGCONT');
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await gone;
    clearTimeout(timer);
  }

  /** Log lines whose message matches. */
  lines(msg: RegExp): LogLine[] {
    return this.log.filter((line) => msg.test(line.msg));
  }

  /** How many times it logged each message at level warn (40) or above. */
  warnings(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const line of this.log) if (line.level >= 40) counts[line.msg] = (counts[line.msg] ?? 0) + 1;
    return counts;
  }

  /** The last n lines, as printed, for failure messages. */
  tail(n: number): string {
    return this.log.slice(-n).map((line) => JSON.stringify(line)).join('\n');
  }

  /** GET /api/metrics, over TLS pinned to the server's certificate. */
  metricsText(): Promise<string> {
    const { httpUrl, tlsFingerprint } = this.info;
    return new Promise((resolve, reject) => {
      // The certificate is self-signed: checked by its fingerprint below, not by a CA.
      const request = get(`${httpUrl}/api/metrics`, { rejectUnauthorized: false, timeout: 10_000 }, (response) => {
        const seen = (response.socket as TLSSocket).getPeerCertificate().fingerprint256;
        if (seen !== tlsFingerprint) {
          response.destroy();
          reject(new Error(`metrics of site ${this.site.name}: certificate ${seen} is not the server's ${tlsFingerprint}`));
          return;
        }
        let body = '';
        response.setEncoding('utf8').on('data', (d: string) => (body += d));
        response.on('end', () => resolve(body));
        response.on('error', reject);
      });
      request.on('timeout', () => request.destroy(new Error('metrics request timed out')));
      request.on('error', reject);
    });
  }

  /** One counter or gauge of /api/metrics (summed over its labels); undefined if absent. */
  async metric(name: string): Promise<number | undefined> {
    const text = await this.metricsText();
    let total: number | undefined;
    for (const line of text.split('\n')) {
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
      if (m && m[1] === name) total = (total ?? 0) + Number(m[3]);
    }
    return total;
  }

  private onData(chunk: string): void {
    for (const object of this.output.push(chunk)) {
      const line = object as LogLine;
      this.log.push(line);
      if (line.msg === 'chorus server listening' && !this.listening) {
        this.listening = {
          httpUrl: String(line['httpUrl']),
          tcpPort: Number(line['tcpPort']),
          tlsFingerprint: String(line['tlsFingerprint']),
          ...(line['serverId'] !== undefined ? { serverId: String(line['serverId']) } : {}),
          ...(line['site'] !== undefined ? { site: String(line['site']) } : {}),
        };
        this.onListening(this.listening);
      }
    }
  }
}

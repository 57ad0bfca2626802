import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { RunningAgent } from '../agent/agent.js';
import { type Profile, loadProfile, saveProfile } from '../client/profile.js';
import { DEFAULTS, type RunningServer, type ServerConfig, defaultServerConfig } from '../server/config.js';
import { selfSignedFingerprint } from '../server/tls/material.js';
import { isLoopbackHost } from '../protocol/loopback.js';
import { NO_OPEN_HELP, PORT_HELP, announce, announceRunning, givenOptions, launchAgent, port } from './client.js';
import { profileDirOf } from './account.js';
import { demoBanner, seedDemo } from './demo.js';
import { chorusCommand, chorusCommandForOthers, givenFlags, relaunchCommand, shellWord } from './invocation.js';
import { CliError, usageError } from './output.js';
import { stopOnSignals } from './signals.js';

/**
 * `chorus up`: a server on its embedded defaults and a web client for it, in one process: what a
 * newcomer runs first. One of the two commands that may load the server (with `chorus server`).
 *
 * The server speaks TLS even on loopback, with the certificate it made in its data folder, and
 * `up` hands that certificate's fingerprint to its own client and profile: on a machine shared
 * with others, a local user who takes the ports while the server is down gets no password or
 * session token, since every client of this profile refuses any other certificate.
 */

interface UpOptions {
  data?: string;
  httpPort?: string;
  tcpPort?: string;
  port?: string;
  open: boolean;
  demo?: boolean;
}

export function registerUpCommand(program: Command, env: NodeJS.ProcessEnv = process.env): void {
  program
    .command('up')
    .description('start a server on this machine (embedded defaults) and a web client for it, and open its window')
    .option('--data <dir>', `folder for the server's database and key (default ${DEFAULTS.dataDir})`)
    .option('--http-port <port>', `port of the server's HTTP API on ${DEFAULTS.host}, 0 for any free one (default ${DEFAULTS.httpPort})`)
    .option('--tcp-port <port>', `port the server takes messages on, 0 for any free one (default ${DEFAULTS.tcpPort})`)
    .option('--port <port>', PORT_HELP)
    .option('--no-open', NO_OPEN_HELP)
    .option('--demo', 'also create two test users with printed passwords (carlos@gmail.com, luis@gmail.com) and a chat they are both in: to try Chorus (loopback only)')
    .addHelpText(
      'after',
      `
The server listens on https://${DEFAULTS.host}:${DEFAULTS.httpPort} (this machine only), with a certificate
it made in its data folder; this profile pins it. At start it prints the command with which
others on this machine join it (chorus client --server URL --fingerprint F --profile DIR).
Use "chorus server" for a server alone, with every setting.`,
    )
    .action(async (options: UpOptions, command: Command) => {
      const profileDir = profileDirOf(command, env);
      const uiPort = port(options.port);
      const unused = givenOptions(command, ['data', 'httpPort', 'tcpPort', 'port', 'demo']);
      if (await announceRunning(profileDir, options.open, unused, unused.length > 0 ? ' (no server was started)' : '')) return;
      const dataDir = resolve(options.data ?? DEFAULTS.dataDir);
      const config = defaultServerConfig({
        dataDir,
        httpPort: options.httpPort === undefined ? DEFAULTS.httpPort : port(options.httpPort, '--http-port'),
        tcpPort: options.tcpPort === undefined ? DEFAULTS.tcpPort : port(options.tcpPort, '--tcp-port'),
        logLevel: 'warn',
        // TLS on loopback too: clients then know this server from anything else on its ports.
        tls: { force: true },
      });
      if (options.demo) refuseDemoBeyondLoopback(config.host);
      const server = await launchServer(config);
      const pin = server.tlsFingerprint!;
      let agent: RunningAgent;
      let banner = '';
      let loginEmail: string | undefined;
      try {
        if (options.demo) {
          // Checked again on the address the server really took: the passwords below are public.
          refuseDemoBeyondLoopback(new URL(server.httpUrl).hostname);
          const seed = await demoSeeded(server.httpUrl, pin);
          const [first, second] = seed.users;
          // Each window opens on the login screen of the user the banner tells the person to be.
          loginEmail = first!.email;
          // Luis is someone else: his own profile, beside this one, not the --profile this was given.
          const luisProfile = shellWord(`${profileDir}-luis`);
          banner = demoBanner(seed, chorusCommandForOthers(`${clientOf(server.httpUrl, pin)} --profile ${luisProfile} --email ${second!.email}`), options.open);
        }
        await pinForProfile(profileDir, server.httpUrl, pin);
        agent = await launchAgent({
          server: server.httpUrl,
          tlsFingerprint: pin,
          profileDir,
          port: uiPort,
          interfaceAddress: DEFAULTS.multicastInterface,
          // Its data folder absolute: `up` run elsewhere would otherwise start on another, empty one.
          relaunch: relaunchCommand(env, 'up', givenFlags({
            data: options.data !== undefined || env.npm_lifecycle_event !== 'start' ? dataDir : undefined,
            httpPort: options.httpPort,
            tcpPort: options.tcpPort,
            port: options.port,
          })),
          ...(loginEmail ? { loginEmail } : {}),
        });
      } catch (error) {
        await server.close();
        throw error;
      }
      // Before the addresses are printed: whoever reads them may stop us at once.
      stopOnSignals([agent, server]);
      process.stdout.write(`Chorus server: ${server.httpUrl} (TCP port ${server.tcpPort}), data in ${dataDir}\n`);
      process.stdout.write(`  its TLS certificate (SHA-256): ${pin}\n`);
      process.stdout.write(`  others on this machine join it with: ${chorusCommandForOthers(`${clientOf(server.httpUrl, pin)} --profile DIR`)}\n`);
      if (banner) process.stdout.write(banner);
      announce(agent, options.open, profileDir);
    });
}

/**
 * The demo's accounts have passwords printed for all to read: serving them beyond this machine
 * would hand anyone on the network a login. `up` serves loopback only today; this guard, on the
 * host the server is configured with and on the one it took, keeps a future --host from changing that.
 */
export function refuseDemoBeyondLoopback(host: string): void {
  if (!isLoopbackHost(host)) {
    throw usageError(`--demo creates accounts with public passwords, so it serves this machine only: ${host.slice(0, 100)} is not a loopback address (127.0.0.1, ::1)`);
  }
}

/**
 * This profile's commands (`chorus register`, `send`, …) reach the server `up` runs without a
 * question: `up` started it from its own data folder, so the certificate it hands over needs no
 * confirming. A new profile is pointed at it; one kept for this address over plain http (a
 * Chorus before this) moves to https with its session; one whose pin is another certificate on
 * this address (another data folder) had its session and keys from another server, and starts
 * afresh. A profile kept for another server is left as it is: logging in through the window
 * moves it here, as it always did.
 */
export async function pinForProfile(profileDir: string, server: string, tlsFingerprint: string): Promise<void> {
  let profile: Profile | undefined;
  try {
    profile = await loadProfile(profileDir);
  } catch {
    return; // An unreadable profile is left for the client to report, not overwritten.
  }
  if (profile && new URL(profile.server).host !== new URL(server).host) return;
  if (profile?.server === server && profile.tlsFingerprint === tlsFingerprint) return;
  const kept = profile && profile.server !== server ? profile : {};
  await saveProfile(profileDir, { ...kept, server, tlsFingerprint });
}

async function demoSeeded(serverUrl: string, tlsFingerprint: string) {
  try {
    return await seedDemo(serverUrl, tlsFingerprint);
  } catch (error) {
    throw new CliError(`cannot set up the demo users and chat: ${(error as Error).message}`);
  }
}

async function launchServer(config: ServerConfig): Promise<RunningServer> {
  // Read before the start, which makes a certificate when there is none: only one that was there
  // already can be the running server's.
  const pin = selfSignedFingerprint(config.dataDir);
  // Loaded only here: `chorus client` needs none of the server's dependencies.
  const { startServer } = await import('../server/compose.js');
  try {
    return await startServer(config);
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE') {
      const server = `https://${DEFAULTS.host}:${config.httpPort}`;
      const connect = pin
        ? `If it is the Chorus server "chorus up" started on this data folder, connect to it with "${chorusCommand(clientOf(server, pin))}"`
        : `If a Chorus server is already running there, connect to it with "${chorusCommand(clientOf(server, 'F'))}", F being the fingerprint it printed at start`;
      throw new CliError(
        `cannot start the server: port ${config.httpPort} or ${config.tcpPort} on ${DEFAULTS.host} is in use. ` +
          `${connect}; else choose other ports with --http-port and --tcp-port.`,
      );
    }
    throw new CliError(`cannot start the server: ${e.message}`);
  }
}

/** The `chorus client` arguments that reach `server` with its certificate pinned. */
function clientOf(server: string, fingerprint: string): string {
  return `client --server ${server} --fingerprint ${fingerprint}`;
}

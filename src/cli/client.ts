import type { Command } from 'commander';
import type { AgentConfig, RunningAgent } from '../agent/agent.js';
import { askRunningAgent } from '../agent/control-socket.js';
import { openBrowser } from '../agent/open-browser.js';
import { normalizeFingerprint } from '../client/certificate-pin.js';
import { type Profile, loadProfile, preparePrivateFolder } from '../client/profile.js';
import { DEFAULT_MULTICAST_INTERFACE } from '../protocol/defaults.js';
import { ChorusError } from '../protocol/errors.js';
import { profileDirOf } from './account.js';
import { chorusCommand, flagOf, givenFlags, relaunchCommand } from './invocation.js';
import { DEFAULT_SERVER, emailOption, multicastInterface, serverUrl } from './options.js';
import { CliError, EXIT_USAGE, printNote, usageError } from './output.js';
import { stopOnSignals } from './signals.js';

/**
 * `chorus client`: the web client, a local agent (src/agent) serving the UI to the user's
 * browser. Flags are checked here, once, and handed down as an AgentConfig. `chorus up`
 * (up.ts) starts a server and the same agent, with the helpers exported here.
 */

interface ClientOptions {
  server?: string;
  port?: string;
  open: boolean;
  multicastInterface?: string;
  fingerprint?: string;
  email?: string;
}


export const PORT_HELP = "port of the web UI on 127.0.0.1, 0 for any free one (default: the profile's port from last time if free, else any free one)";
export const NO_OPEN_HELP = 'print the address, but open no window (by default it opens as an app window of Chrome, Chromium or Edge where one is installed, else in the default browser)';

export function registerClientCommand(program: Command, env: NodeJS.ProcessEnv = process.env): void {
  program
    .command('client')
    .description('run the web client: serves the chat UI on 127.0.0.1 and opens it in a window (Ctrl-C stops it)')
    .option('--server <url>', `the server's address, a URL or host:port (default: the profile's server, else ${DEFAULT_SERVER})`)
    .option('--port <port>', PORT_HELP)
    .option('--no-open', NO_OPEN_HELP)
    .option('--multicast-interface <address>', `IPv4 address of this machine's interface to receive chats on (default ${DEFAULT_MULTICAST_INTERFACE})`)
    .option('--fingerprint <hex>', 'for an https:// server the profile has not trusted yet: the SHA-256 fingerprint of its certificate, as `chorus server` printed it')
    .option('--email <address>', 'while logged out, open on the login screen with this email address filled in')
    .addHelpText(
      'after',
      `
Only a browser tab opened on the printed address can use the client: the address carries a
one-time ticket (after the #, which browsers never send), which the tab swaps for a key of its
own. Run "chorus client" again while it runs for a new address (for another tab or browser).
The address stays the same across restarts, and open tabs reconnect by themselves. Run one
client per profile (--profile DIR) to be several people on one machine. On a LAN, give the
server's address and your own LAN address:
  chorus client --server https://192.168.1.20:6789 --multicast-interface 192.168.1.31
A LAN server speaks TLS: its certificate is the one pinned in the profile by "chorus login",
or the one --fingerprint names.`,
    )
    .action(async (options: ClientOptions, command: Command) => {
      const profileDir = profileDirOf(command, env);
      const loginEmail = options.email === undefined ? undefined : emailOption(options.email);
      if (await announceRunning(profileDir, options.open, givenOptions(command, ['server', 'port', 'multicastInterface', 'fingerprint', 'email']))) return;
      const profile = await loadProfile(profileDir);
      const server = serverUrl(options.server ?? profile?.server ?? DEFAULT_SERVER);
      const agent = await launchAgent({
        server,
        ...certificatePin(server, profile, options.fingerprint),
        profileDir,
        port: port(options.port),
        interfaceAddress: multicastInterface(options.multicastInterface ?? DEFAULT_MULTICAST_INTERFACE),
        relaunch: relaunchCommand(env, 'client', givenFlags({ server: options.server, fingerprint: options.fingerprint, port: options.port, multicastInterface: options.multicastInterface })),
        ...(loginEmail ? { loginEmail } : {}),
      });
      // Before the address is printed: whoever reads it may stop us at once.
      stopOnSignals([agent]);
      announce(agent, options.open, profileDir);
    });
}

export async function launchAgent(config: AgentConfig): Promise<RunningAgent> {
  try {
    // Loaded only here, like the server: the other commands need none of the agent's dependencies.
    const { startAgent } = await import('../agent/agent.js');
    return await startAgent(config);
  } catch (error) {
    // By its code, not its class: importing static-files.ts here would load @fastify/static for every command.
    if (error instanceof ChorusError && error.code === 'UI_NOT_BUILT') throw new CliError(`cannot start the client: ${error.message}`);
    const e = error as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE') throw new CliError(`cannot start the client: port ${config.port} on 127.0.0.1 is in use (choose another with --port, or 0)`);
    throw error;
  }
}

export function announce(agent: RunningAgent, open: boolean, profileDir: string): void {
  process.stdout.write(`Chorus client: ${agent.url}\n`);
  if (agent.movedFrom) printNote(`(port ${agent.movedFrom}, this profile's address last time, is taken: tabs still open on it need the address above)`);
  printNote(`(profile ${profileDir}; the address above opens one browser tab, once. Ctrl-C stops.)`);
  if (open) openBrowser(agent.url, profileDir);
}

/**
 * A client already runs on this profile: print (and open) a fresh link from it instead of
 * starting another. Only once the folder is known to be the user's own and private: whoever
 * could put a socket in it could answer with a link of their choosing.
 */
export async function announceRunning(profileDir: string, open: boolean, unused: string[] = [], unusedMeans = ''): Promise<boolean> {
  await preparePrivateFolder(profileDir);
  const url = await askRunningAgent(profileDir);
  if (!url) return false;
  process.stdout.write(`Chorus client: ${url}\n`);
  printNote(`(the Chorus client for profile ${profileDir} is already running; the address above is a new one, for one browser tab, once)`);
  // Options that would have shaped a new start do nothing now: say so, or the person believes they did.
  if (unused.length > 0) {
    printNote(`chorus: not used, since that client runs already: ${unused.join(', ')}${unusedMeans}. To start with them, stop the running client (Ctrl-C where it runs) or give another --profile.`);
  }
  if (open) openBrowser(url, profileDir);
  return true;
}

/** The options of `names` given on the command line (or by environment), as the person typed them: --multicast-interface for multicastInterface. */
export function givenOptions(command: Command, names: string[]): string[] {
  return names.filter((name) => command.getOptionValue(name) !== undefined).map(flagOf);
}

/** An https:// server needs a pinned certificate: --fingerprint, else the profile's; a first contact is `chorus login`'s to confirm. */
function certificatePin(server: string, profile: Profile | undefined, flag: string | undefined): { tlsFingerprint?: string } {
  if (!server.startsWith('https:')) {
    if (flag !== undefined) throw usageError('--fingerprint is for https:// servers: a plain http:// server has no certificate');
    return {};
  }
  if (flag !== undefined) {
    const tlsFingerprint = normalizeFingerprint(flag);
    if (!tlsFingerprint) throw usageError(`invalid --fingerprint "${flag.slice(0, 120)}": give the 64 hex digits \`chorus server\` printed at start (colons optional)`);
    return { tlsFingerprint };
  }
  if (profile?.server === server && profile.tlsFingerprint) return { tlsFingerprint: profile.tlsFingerprint };
  throw new CliError(
    `this profile has not trusted ${server} yet: log in once with "${chorusCommand(`login --server ${server}`)}" (which shows the certificate's fingerprint to confirm), ` +
      'or pass --fingerprint with the SHA-256 fingerprint `chorus server` printed when it started',
    EXIT_USAGE,
  );
}

export function port(value: string, flag: string): number;
export function port(value: string | undefined): number | undefined;
export function port(value: string | undefined, flag = '--port'): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,5}$/.test(value.trim()) || Number(value) > 65535) throw usageError(`invalid ${flag} "${value.slice(0, 20)}": give a port number from 1 to 65535, or 0 for any free one`);
  return Number(value);
}

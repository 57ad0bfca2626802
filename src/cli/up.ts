import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { RunningAgent } from '../agent/agent.js';
import { DEFAULTS, type RunningServer, defaultServerConfig } from '../server/config.js';
import { NO_OPEN_HELP, PORT_HELP, announce, announceRunning, launchAgent, port } from './client.js';
import { profileDirOf } from './account.js';
import { chorusCommand, relaunchCommand } from './invocation.js';
import { DEFAULT_SERVER } from './options.js';
import { CliError } from './output.js';
import { stopOnSignals } from './signals.js';

/**
 * `chorus up`: a server on its embedded defaults and a web client for it, in one process: what a
 * newcomer runs first. One of the two commands that may load the server (with `chorus server`).
 */

interface UpOptions {
  data?: string;
  httpPort?: string;
  tcpPort?: string;
  port?: string;
  open: boolean;
}

export function registerUpCommand(program: Command, env: NodeJS.ProcessEnv = process.env): void {
  program
    .command('up')
    .description('start a server on this machine (embedded defaults) and a web client for it, and open the browser')
    .option('--data <dir>', `folder for the server's database and key (default ${DEFAULTS.dataDir})`)
    .option('--http-port <port>', `port of the server's HTTP API on ${DEFAULTS.host}, 0 for any free one (default ${DEFAULTS.httpPort})`)
    .option('--tcp-port <port>', `port the server takes messages on, 0 for any free one (default ${DEFAULTS.tcpPort})`)
    .option('--port <port>', PORT_HELP)
    .option('--no-open', NO_OPEN_HELP)
    .addHelpText(
      'after',
      `
The server listens on ${DEFAULT_SERVER} (this machine only). Others on this machine join it with
  chorus client --profile DIR
Use "chorus server" for a server alone, with every setting.`,
    )
    .action(async (options: UpOptions, command: Command) => {
      const profileDir = profileDirOf(command, env);
      const uiPort = port(options.port);
      if (await announceRunning(profileDir, options.open)) return;
      const dataDir = resolve(options.data ?? DEFAULTS.dataDir);
      const server = await launchServer({
        dataDir,
        httpPort: options.httpPort === undefined ? DEFAULTS.httpPort : port(options.httpPort, '--http-port'),
        tcpPort: options.tcpPort === undefined ? DEFAULTS.tcpPort : port(options.tcpPort, '--tcp-port'),
      });
      let agent: RunningAgent;
      try {
        agent = await launchAgent({ server: server.httpUrl, profileDir, port: uiPort, interfaceAddress: DEFAULTS.multicastInterface, relaunch: relaunchCommand(env, 'up') });
      } catch (error) {
        await server.close();
        throw error;
      }
      process.stdout.write(`Chorus server: ${server.httpUrl} (TCP port ${server.tcpPort}), data in ${dataDir}\n`);
      announce(agent, options.open, profileDir);
      stopOnSignals([agent, server]);
    });
}

async function launchServer(where: { dataDir: string; httpPort: number; tcpPort: number }): Promise<RunningServer> {
  // Loaded only here: `chorus client` needs none of the server's dependencies.
  const { startServer } = await import('../server/compose.js');
  try {
    return await startServer(defaultServerConfig({ ...where, logLevel: 'warn' }));
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE') {
      throw new CliError(
        `cannot start the server: port ${where.httpPort} or ${where.tcpPort} on ${DEFAULTS.host} is in use. ` +
          `If a Chorus server is already running, use "${chorusCommand('client')}" to connect to it; else choose other ports with --http-port and --tcp-port.`,
      );
    }
    throw new CliError(`cannot start the server: ${e.message}`);
  }
}


import type { AddressInfo } from 'node:net';
import { Accounts } from './accounts.js';
import { Chats } from './chats.js';
import type { RunningServer, ServerConfig } from './config.js';
import { buildHttpApp } from './http/app.js';
import { createLogger } from './logger.js';
import { LoginThrottle } from './login-throttle.js';
import { MulticastAllocator } from './multicast-allocator.js';
import { sqliteFileIn } from './store/database.js';
import { Store } from './store/store.js';

const EXPIRED_SESSION_SWEEP_MS = 60 * 60 * 1000;

/** Wires the parts of a server together and starts listening. */
export async function startServer(config: ServerConfig): Promise<RunningServer> {
  const logger = createLogger(config.logLevel);
  const store = await Store.open(
    config.database.engine === 'sqlite'
      ? { engine: 'sqlite', file: sqliteFileIn(config.dataDir) }
      : { engine: 'postgres', url: config.database.url },
  );
  const accounts = new Accounts(store, new LoginThrottle(config.loginThrottle), config.sessionTtlSeconds);
  const chats = new Chats(store, new MulticastAllocator(config.multicast));
  const app = await buildHttpApp({ accounts, chats }, logger);

  try {
    await app.listen({ host: config.host, port: config.httpPort });
  } catch (error) {
    await store.close();
    throw error;
  }
  const { port } = app.server.address() as AddressInfo;
  const httpUrl = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  const sweep = setInterval(() => void accounts.removeExpiredSessions().catch(() => {}), EXPIRED_SESSION_SWEEP_MS);
  sweep.unref();
  logger.info({ httpUrl, engine: store.engine }, 'chorus server listening');

  let closing: Promise<void> | undefined;
  return {
    httpUrl,
    tcpPort: config.tcpPort,
    close() {
      closing ??= (async () => {
        clearInterval(sweep);
        // Fastify stops accepting, lets in-flight requests finish, then we close the database.
        await app.close();
        await store.close();
        logger.info('chorus server stopped');
      })();
      return closing;
    },
  };
}

import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { Accounts } from '../accounts.js';
import type { Chats } from '../chat-service.js';
import type { ServerIdentity } from '../server-identity.js';
import type { UserSettings } from '../settings.js';
import type { TlsMaterial } from '../tls/material.js';
import type { HttpConnectionCap } from './connection-cap.js';

/** What the HTTP API is built from (app.ts) and what each route file (one per resource) is given. */

export interface HttpServices {
  accounts: Accounts;
  chats: Chats;
  /** GET and PUT /api/me/settings. */
  settings: UserSettings;
  identity: ServerIdentity;
  /** The TCP ingest port, which clients learn from GET /api/server. */
  tcpPort: number;
  /** When set, the API is served over HTTPS with this certificate. */
  tls?: TlsMaterial;
  /** Served at GET /api/metrics. */
  metrics: Registry;
  /** Counts the port's connections per address and requests per connection (default: one with DEFAULTS' limits, unmetered). */
  connections?: HttpConnectionCap;
  /** History requests one user may have being answered at once (default DEFAULTS.historyRequestsPerUser). */
  historyRequestsPerUser?: number;
  /** Told of every logout, so that the session's TCP connections end too. */
  sessionEnded?: (token: string) => void;
  /**
   * The server listens on loopback: only requests naming a loopback host (or localhost) are
   * answered. A web page whose name the attacker points at 127.0.0.1 (DNS rebinding) reaches a
   * loopback port from the victim's browser, but its requests carry the page's name as Host.
   */
  loopbackOnly?: boolean;
}

/** The Fastify app with TypeBox typing, as every route file receives it. */
export type App = FastifyInstance<any, any, any, any, TypeBoxTypeProvider>;

/**
 * Defaults the server and its clients must agree on: where a server listens when nobody says,
 * and the interface multicast uses on one machine. The server's other defaults live in
 * server/config.ts; a client never loads server modules to learn these.
 */
export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_HTTP_PORT = 6789;
export const DEFAULT_TCP_PORT = 12342;
/** Loopback: the safe default; serving a LAN is one flag away (--multicast-interface). */
export const DEFAULT_MULTICAST_INTERFACE = '127.0.0.1';

import { isIPv4 } from 'node:net';

/**
 * Whether a host names this machine only: 127.0.0.0/8, ::1 (also IPv4-mapped, or bracketed as
 * in a URL) and localhost. Servers decide TLS and which Host headers to answer by it, clients
 * which scheme a bare `host:port` means, the doctor whether a server is on a LAN.
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  const v4 = h.replace(/^::ffff:/, '');
  return isIPv4(v4) && v4.startsWith('127.');
}

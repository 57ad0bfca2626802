import { randomInt } from 'node:crypto';
import type { MulticastConfig } from './config.js';

export interface GroupAndPort {
  group: string;
  port: number;
}

/** Parses a.b.c.d/n; throws a readable error for anything else. */
export function parseIpv4Cidr(cidr: string): { base: number; size: number } {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr.trim());
  const octets = match?.slice(1, 5).map(Number) ?? [];
  const prefix = Number(match?.[5]);
  if (!match || octets.some((o) => o > 255) || prefix > 32) throw new Error(`not an IPv4 CIDR range: ${cidr}`);
  const address = octets.reduce((acc, o) => acc * 256 + o, 0);
  const size = 2 ** (32 - prefix);
  return { base: address - (address % size), size };
}

export function formatIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

/**
 * Draws a group address and a port for a new chat from the configured ranges. Draws are random;
 * the database's unique constraint on (group, port) settles collisions and the caller draws
 * again.
 */
export class MulticastAllocator {
  private readonly groups: { base: number; size: number };

  constructor(private readonly config: MulticastConfig) {
    this.groups = parseIpv4Cidr(config.groups);
  }

  /** How many distinct (group, port) pairs exist: bounds the retries worth making. */
  get capacity(): number {
    return this.groups.size * (this.config.ports.last - this.config.ports.first + 1);
  }

  draw(): GroupAndPort {
    // Skip the range's first and last address where the range is big enough to have them:
    // x.x.x.0 and x.x.x.255 confuse some network gear.
    const inner = this.groups.size > 2 ? randomInt(1, this.groups.size - 1) : randomInt(0, this.groups.size);
    return {
      group: formatIpv4(this.groups.base + inner),
      port: randomInt(this.config.ports.first, this.config.ports.last + 1),
    };
  }
}

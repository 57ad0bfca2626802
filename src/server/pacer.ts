import { MAX_DATAGRAM_BYTES } from '../protocol/limits.js';

/** How fast multicast may leave the server; 0 in both turns pacing off. */
export interface MulticastRate {
  /** UDP payload bytes per second, every chat together. */
  bytesPerSecond: number;
  /** Datagrams per second, every chat together: what a receiver's per-datagram work is bound by. */
  datagramsPerSecond: number;
}

/**
 * 12 Mbit/s and 2,000 datagrams/s. An 802.11g link (54 Mb/s nominal) carries about 20-25 Mb/s
 * in practice, and multicast on Wi-Fi often goes at a lower basic rate: 12 Mb/s leaves room for
 * everything else on the link. 2,000 datagrams/s one by one would cost a receiver a quarter of a
 * core or more in signature checks (0.12-0.16 ms each on benchmark machines); under load they go
 * in runs with one check per run (fanout.ts), which leaves the byte rate as the bound. Linux's
 * default 208 KiB receive buffer holds about 90 datagrams, so a busy receiver can stall for 45 ms
 * without losing any.
 * Not 1,000: at light load each message is its own datagram, and 1,000 messages a second
 * offered would then queue (p99 latency 0.5 s in docs/benchmarks.md). Short messages pack 10-12
 * to a 1,200-byte datagram under load (more where the interface's MTU allows larger ones:
 * datagram-size.ts), so the pace carries 12,000-15,000 of them a second;
 * `--multicast-rate` raises it for wired networks and fast receivers. On loopback the default is
 * LOOPBACK_MULTICAST_RATE (below).
 */
export const DEFAULT_MULTICAST_RATE: MulticastRate = { bytesPerSecond: 1_500_000, datagramsPerSecond: 2000 };

/**
 * 64 Mbit/s and 2,000 datagrams/s, the default when multicast stays on loopback (every member
 * on this one machine: `chorus up`, a demo, the benchmarks). There is no link to leave room on,
 * so the Wi-Fi figure above would only hold messages back (at R = 1 it bound the side-by-side
 * benchmark at about 12,000 short messages a second, the commits running 700 ms ahead of the
 * deliveries). What is left to protect are the receivers on this machine: the datagram rate
 * stays, and a burst (BURST_MS of 64 Mbit/s: 160 KB) still fits Linux's default 208 KiB receive
 * buffer. 8 MB/s carries 60,000-70,000 short messages a second, more than the server commits.
 */
export const LOOPBACK_MULTICAST_RATE: MulticastRate = { bytesPerSecond: 8_000_000, datagramsPerSecond: 2000 };

/** The pace when none is configured: LOOPBACK_MULTICAST_RATE on a loopback interface (127.0.0.0/8), else DEFAULT_MULTICAST_RATE. */
export function defaultMulticastRate(interfaceAddress: string): MulticastRate {
  return { ...(/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(interfaceAddress) ? LOOPBACK_MULTICAST_RATE : DEFAULT_MULTICAST_RATE) };
}

/**
 * How much may go at once after a quiet spell: this many milliseconds' worth of the rate (at
 * least one full datagram). Small enough that a receiver's socket buffer takes it whole.
 */
export const BURST_MS = 20;

/** BURST_MS of `rate` in bytes, and at least one full datagram: the most that may go at once. */
export function burstBytes(rate: MulticastRate): number {
  return Math.max(MAX_DATAGRAM_BYTES, (rate.bytesPerSecond * BURST_MS) / 1000);
}

/** Milliseconds, monotonic. */
export type Clock = () => number;

/**
 * Two token buckets, one in bytes and one in datagrams, filled at the configured rate up to
 * BURST_MS worth. A datagram may go when both hold enough; sending takes its tokens. The pacer
 * only answers "how long until": the fan-out does the waiting, and packs what queued meanwhile
 * into fuller datagrams.
 */
export class Pacer {
  private bytes: number;
  private datagrams: number;
  private byteCapacity = 0;
  private datagramCapacity = 0;
  private last: number;

  constructor(
    private rate: MulticastRate,
    private readonly clock: Clock = () => performance.now(),
  ) {
    this.size(rate);
    this.bytes = this.byteCapacity;
    this.datagrams = this.datagramCapacity;
    this.last = clock();
  }

  /**
   * Paces at another rate from now on (receivers' feedback, pace-control.ts): what was earned
   * at the old rate is kept, up to the new burst.
   */
  setRate(rate: MulticastRate): void {
    if (rate.bytesPerSecond === this.rate.bytesPerSecond && rate.datagramsPerSecond === this.rate.datagramsPerSecond) return;
    this.refill();
    this.rate = rate;
    this.size(rate);
    this.bytes = Math.min(this.bytes, this.byteCapacity);
    this.datagrams = Math.min(this.datagrams, this.datagramCapacity);
  }

  private size(rate: MulticastRate): void {
    this.byteCapacity = burstBytes(rate);
    this.datagramCapacity = Math.max(1, (rate.datagramsPerSecond * BURST_MS) / 1000);
  }

  get paced(): boolean {
    return this.rate.bytesPerSecond > 0 && this.rate.datagramsPerSecond > 0;
  }

  /** Milliseconds until a datagram of `size` bytes may go; 0: now. */
  delayFor(size: number): number {
    if (!this.paced) return 0;
    this.refill();
    const bytesShort = Math.min(size, this.byteCapacity) - this.bytes;
    const datagramsShort = 1 - this.datagrams;
    return Math.max(0, (bytesShort * 1000) / this.rate.bytesPerSecond, (datagramsShort * 1000) / this.rate.datagramsPerSecond);
  }

  /** Takes the tokens of a datagram that is going now. It may overdraw: the debt delays what follows. */
  spend(size: number): void {
    if (!this.paced) return;
    this.refill();
    this.bytes -= size;
    this.datagrams -= 1;
  }

  private refill(): void {
    const now = this.clock();
    const elapsed = Math.max(0, now - this.last) / 1000;
    this.last = Math.max(this.last, now);
    this.bytes = Math.min(this.byteCapacity, this.bytes + elapsed * this.rate.bytesPerSecond);
    this.datagrams = Math.min(this.datagramCapacity, this.datagrams + elapsed * this.rate.datagramsPerSecond);
  }
}

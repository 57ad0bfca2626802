import { connect } from 'node:net';
import { type Frame, FrameDecoder } from '../../../src/protocol/frames.js';

/** One hostile TCP connection to the ingest: what the server answered, and how it ended. */
export interface FuzzConnection {
  frames: Frame[];
  /** The server's bytes did not decode, or it held on to the connection: a server bug. */
  badAnswer?: string;
  closedByServer: boolean;
}

/**
 * After writing: 'end' half-closes at once; 'linger' waits for the answers to stop (a short
 * quiet spell), or for the close after a fatal error; 'until-closed' waits for the server to
 * close, which it must do after a protocol violation.
 */
export type Ending = 'end' | 'linger' | 'until-closed';

const CLOSE_GUARD_MS = 5000;
const QUIET_MS = 60;

/** Connects, says `hello` and waits for the answer if given one, then writes `chunks` one by one. */
export function fuzzConnection(port: number, chunks: Buffer[], ending: Ending, hello?: Buffer): Promise<FuzzConnection> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const decoder = new FrameDecoder();
    const result: FuzzConnection = { frames: [], closedByServer: false };
    let quiet: NodeJS.Timeout | undefined;
    let guard: NodeJS.Timeout | undefined;
    let written = false;
    const fatal = () => result.frames.some((f) => f.t === 'error' && f.id === undefined);
    const settle = () => {
      clearTimeout(quiet);
      clearTimeout(guard);
      socket.destroy();
      resolve(result);
    };
    const waitQuietly = () => {
      clearTimeout(quiet);
      // After a fatal error only the server's close ends the wait (or the guard).
      if (ending === 'linger' && written && !fatal()) quiet = setTimeout(settle, QUIET_MS);
    };
    socket.on('data', (chunk) => {
      try {
        result.frames.push(...decoder.push(chunk));
      } catch (error) {
        result.badAnswer ??= String(error);
      }
      waitQuietly();
    });
    socket.on('error', () => {});
    socket.on('end', () => {
      result.closedByServer = true;
    });
    socket.on('close', settle);
    socket.on('connect', async () => {
      // A client logs in and waits for its welcome before it sends anything else.
      if (hello) {
        socket.write(hello);
        for (let waited = 0; waited < CLOSE_GUARD_MS && !socket.destroyed && !result.frames.some((f) => f.t !== 'pong'); waited += 5) {
          await new Promise((r) => setTimeout(r, 5));
        }
      }
      for (const c of chunks) {
        if (socket.destroyed) break;
        socket.write(c);
        // Let the server see chunk boundaries now and then.
        if (c.length % 3 === 0) await new Promise((r) => setImmediate(r));
      }
      written = true;
      guard = setTimeout(() => {
        if (fatal()) result.badAnswer ??= `still open ${CLOSE_GUARD_MS} ms after a fatal error`;
        else if (ending === 'end') result.badAnswer ??= `still open ${CLOSE_GUARD_MS} ms after the client closed its side`;
        else if (ending === 'until-closed') result.badAnswer ??= `not closed within ${CLOSE_GUARD_MS} ms`;
        settle();
      }, CLOSE_GUARD_MS);
      if (ending === 'end') socket.end();
      else waitQuietly();
    });
  });
}

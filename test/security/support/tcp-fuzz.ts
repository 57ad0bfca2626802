import { connect } from 'node:net';
import { type Frame, FrameDecoder } from '../../../src/protocol/frames.js';

/** One hostile TCP connection to the ingest: what it sent, and what the server answered. */
export interface FuzzConnection {
  frames: Frame[];
  /** The server's bytes did not decode: a server bug. */
  badAnswer?: string;
  closedByServer: boolean;
}

const FATAL_CLOSE_MS = 3000;

/**
 * Connects, says `hello` and waits for the answer if given one, writes `chunks` one by one, then either half-closes at once or waits for the
 * answers to stop (`linger`). A server that said a fatal error must close within
 * FATAL_CLOSE_MS; one that did not is left open and destroyed after a short quiet spell.
 */
export function fuzzConnection(port: number, chunks: Buffer[], linger: boolean, hello?: Buffer): Promise<FuzzConnection> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const decoder = new FrameDecoder();
    const result: FuzzConnection = { frames: [], closedByServer: false };
    let quiet: NodeJS.Timeout | undefined;
    let guard: NodeJS.Timeout | undefined;
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
      if (!fatal()) quiet = setTimeout(settle, 60);
    };
    socket.on('data', (chunk) => {
      try {
        result.frames.push(...decoder.push(chunk));
      } catch (error) {
        result.badAnswer ??= String(error);
      }
      if (linger) waitQuietly();
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
        for (let waited = 0; waited < 5000 && !socket.destroyed && !result.frames.some((f) => f.t !== 'pong'); waited += 5) {
          await new Promise((r) => setTimeout(r, 5));
        }
      }
      for (const c of chunks) {
        if (socket.destroyed) break;
        socket.write(c);
        // Let the server see chunk boundaries now and then.
        if (c.length % 3 === 0) await new Promise((r) => setImmediate(r));
      }
      guard = setTimeout(() => {
        if (fatal()) result.badAnswer ??= `still open ${FATAL_CLOSE_MS} ms after a fatal error`;
        else if (!linger) result.badAnswer ??= `still open ${FATAL_CLOSE_MS} ms after the client closed its side`;
        settle();
      }, FATAL_CLOSE_MS);
      if (linger) waitQuietly();
      else socket.end();
    });
  });
}

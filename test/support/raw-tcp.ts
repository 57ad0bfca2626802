import { once } from 'node:events';
import { connect } from 'node:net';
import { type Frame, FrameDecoder, encodeFrame } from '../../src/protocol/frames.js';
import { PROTOCOL_VERSION } from '../../src/protocol/limits.js';
import { waitFor } from './messaging.js';

/**
 * A raw TCP client speaking frames, to see exactly what the server answers. `localAddress`: a
 * loopback address to connect from (Linux routes all of 127.0.0.0/8 to lo), for per-address limits.
 */
export async function rawFrameClient(port: number, host = '127.0.0.1', localAddress?: string) {
  const socket = connect({ port, host, ...(localAddress ? { localAddress } : {}) });
  await once(socket, 'connect');
  const decoder = new FrameDecoder();
  const frames: Frame[] = [];
  let isClosed = false;
  socket.on('data', (chunk) => frames.push(...decoder.push(chunk)));
  socket.on('error', () => {});
  const closed = once(socket, 'close').then(() => {
    isClosed = true;
  });
  const ofType = <T extends Frame['t']>(t: T) => frames.filter((f): f is Extract<Frame, { t: T }> => f.t === t);
  return {
    socket,
    frames,
    closed,
    get isClosed() {
      return isClosed;
    },
    send: (frame: Frame) => socket.write(encodeFrame(frame)),
    /** The index-th frame of type t, waiting for it. */
    next: async <T extends Frame['t']>(t: T, index = 0): Promise<Extract<Frame, { t: T }>> => {
      await waitFor(() => ofType(t).length > index, `a ${t} frame`, 10_000);
      return ofType(t)[index]!;
    },
    /** Says hello and waits for the welcome. */
    async login(token: string) {
      socket.write(encodeFrame({ t: 'hello', v: PROTOCOL_VERSION, token }));
      await waitFor(() => ofType('welcome').length > 0 || isClosed, 'a welcome', 10_000);
      if (ofType('welcome').length === 0) throw new Error(`no welcome: ${JSON.stringify(frames)}`);
    },
  };
}

import type { Server as HttpServer } from 'node:http';
import type { Socket } from 'node:net';

/**
 * A response must be handed to the operating system within `deadlineMs` of its request's
 * arrival, or its connection is closed. A client that asks and never reads would otherwise hold
 * the response in the server's memory for as long as it keeps the connection open (the idle
 * timeout does not fire while a write is pending). What the kernel has taken is its to buffer.
 *
 * A connection gone needs no deadline: its timers go with it. Responses queued behind another
 * on a pipelining connection never finish nor close when it goes, and their timers would keep
 * every request and response of it for the deadline's length (found by pipelining 64 KiB of
 * requests on many connections: gigabytes held for 30 s).
 */
export function guardSlowResponses(server: HttpServer, deadlineMs: number): void {
  const pending = new WeakMap<Socket, Set<NodeJS.Timeout>>();
  server.on('request', (request, response) => {
    const socket = request.socket;
    if (socket.destroyed) return;
    let timers = pending.get(socket);
    if (!timers) {
      const ofSocket = new Set<NodeJS.Timeout>();
      pending.set(socket, ofSocket);
      socket.once('close', () => {
        for (const timer of ofSocket) clearTimeout(timer);
        ofSocket.clear();
      });
      timers = ofSocket;
    }
    const timer = setTimeout(() => {
      response.destroy();
      socket.destroy();
    }, deadlineMs);
    timers.add(timer);
    const done = () => {
      clearTimeout(timer);
      timers.delete(timer);
    };
    response.once('finish', done);
    response.once('close', done);
  });
}

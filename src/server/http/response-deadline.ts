import type { Server as HttpServer } from 'node:http';

/**
 * A response must be handed to the operating system within `deadlineMs` of its request's
 * arrival, or its connection is closed. A client that asks and never reads would otherwise hold
 * the response in the server's memory for as long as it keeps the connection open (the idle
 * timeout does not fire while a write is pending). What the kernel has taken is its to buffer.
 */
export function guardSlowResponses(server: HttpServer, deadlineMs: number): void {
  server.on('request', (request, response) => {
    const timer = setTimeout(() => {
      response.destroy();
      request.socket.destroy();
    }, deadlineMs);
    const done = () => clearTimeout(timer);
    response.once('finish', done);
    response.once('close', done);
  });
}

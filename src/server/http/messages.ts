import { Type } from 'typebox';
import { ChorusError } from '../../protocol/errors.js';
import { HISTORY_PAGE_MAX } from '../../protocol/limits.js';
import { DEFAULTS } from '../config.js';
import { PerUserConcurrency } from './concurrency-limit.js';
import type { App, HttpServices } from './services.js';
import { currentCaller } from './auth.js';
import { BEARER, ChatCodeParams, PROBLEMS } from './schemas.js';

/** How long a user refused for too many history requests at once is told to wait, in seconds. */
const HISTORY_BUSY_RETRY_AFTER_S = 1;

export function messageRoutes(app: App, { accounts, chats, historyRequestsPerUser }: HttpServices): void {
  const concurrency = new PerUserConcurrency(historyRequestsPerUser ?? DEFAULTS.historyRequestsPerUser);

  app.get(
    '/chats/:code/messages',
    {
      schema: {
        summary: 'A page of history, ascending by sequence number (members only)',
        description:
          'With `after`, the first `limit` messages after that sequence number; with `before`, the last `limit` before it; with neither, the latest `limit`.',
        security: BEARER,
        params: ChatCodeParams,
        querystring: Type.Object({
          // Sequence numbers are bigint columns read as exact numbers: beyond 2^53 − 1 a page
          // would be asked for with a number neither side can hold (and PostgreSQL refused it).
          after: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
          before: Type.Optional(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: HISTORY_PAGE_MAX })),
        }),
        response: {
          200: Type.Object({ messages: Type.Array(Type.Ref('Message')), latestSeq: Type.Integer() }),
          ...PROBLEMS,
        },
      },
    },
    async (request, reply) => {
      const caller = await currentCaller(accounts, request);
      const release = concurrency.acquire(caller.user.id);
      if (!release) {
        throw new ChorusError(
          'TOO_MANY_REQUESTS',
          `At most ${concurrency.limit} history requests at once; try again in ${HISTORY_BUSY_RETRY_AFTER_S} s`,
          undefined,
          HISTORY_BUSY_RETRY_AFTER_S,
        );
      }
      // Held until the response is out (or its connection gone), not just until it is built.
      reply.raw.once('close', release);
      try {
        return await chats.history(caller, request.params.code, request.query);
      } catch (error) {
        release();
        throw error;
      }
    },
  );
}

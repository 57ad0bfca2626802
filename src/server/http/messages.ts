import { Type } from 'typebox';
import { HISTORY_PAGE } from '../chats.js';
import type { App, HttpServices } from './app.js';
import { currentCaller } from './auth.js';
import { BEARER, ChatCodeParams, PROBLEMS } from './schemas.js';

export function messageRoutes(app: App, { accounts, chats }: HttpServices): void {
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
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: HISTORY_PAGE.max })),
        }),
        response: {
          200: Type.Object({ messages: Type.Array(Type.Ref('Message')), latestSeq: Type.Integer() }),
          ...PROBLEMS,
        },
      },
    },
    async (request) => chats.history(await currentCaller(accounts, request), request.params.code, request.query),
  );
}

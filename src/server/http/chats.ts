import { Type } from 'typebox';
import type { App, HttpServices } from './services.js';
import { currentCaller, currentUser } from './auth.js';
import { BEARER, ChatCodeParams, PROBLEMS } from './schemas.js';

export function chatRoutes(app: App, { accounts, chats }: HttpServices): void {
  app.post(
    '/chats',
    {
      schema: {
        summary: 'Create a chat (the creator becomes a member)',
        security: BEARER,
        body: Type.Object({ name: Type.String({ maxLength: 1024 }) }),
        response: { 201: Type.Ref('Chat'), ...PROBLEMS },
      },
    },
    async (request, reply) => {
      const user = await currentUser(accounts, request);
      return reply.code(201).send(await chats.create(user, request.body));
    },
  );

  app.get(
    '/chats',
    {
      schema: {
        summary: 'My chats',
        security: BEARER,
        response: { 200: Type.Object({ chats: Type.Array(Type.Ref('Chat')) }), ...PROBLEMS },
      },
    },
    async (request) => ({ chats: await chats.listFor(await currentUser(accounts, request)) }),
  );

  app.get(
    '/chats/:code',
    {
      schema: {
        summary: 'A chat (members only)',
        security: BEARER,
        params: ChatCodeParams,
        response: { 200: Type.Ref('Chat'), ...PROBLEMS },
      },
    },
    async (request) => chats.get(await currentCaller(accounts, request), request.params.code),
  );

  app.post(
    '/chats/:code/members',
    {
      schema: {
        summary: 'Join a chat by its code (joining twice is harmless)',
        security: BEARER,
        params: ChatCodeParams,
        response: { 200: Type.Ref('Chat'), ...PROBLEMS },
      },
    },
    async (request) => chats.join(await currentCaller(accounts, request), request.params.code),
  );

  app.delete(
    '/chats/:code/members/me',
    {
      schema: {
        summary: 'Leave a chat',
        security: BEARER,
        params: ChatCodeParams,
        response: { 204: Type.Null(), ...PROBLEMS },
      },
    },
    async (request, reply) => {
      await chats.leave(await currentCaller(accounts, request), request.params.code);
      return reply.code(204).send(null);
    },
  );

  app.delete(
    '/chats/:code/members/:userId',
    {
      schema: {
        summary: "Remove a member (the chat's creator only), who may not join again until the ban is lifted; the chat's key is rotated",
        security: BEARER,
        params: Type.Object({ code: ChatCodeParams.properties.code, userId: Type.Integer({ minimum: 1, maximum: 2 ** 31 - 1 }) }),
        response: { 204: Type.Null(), ...PROBLEMS },
      },
    },
    async (request, reply) => {
      await chats.remove(await currentCaller(accounts, request), request.params.code, request.params.userId);
      return reply.code(204).send(null);
    },
  );

  app.delete(
    '/chats/:code/bans/:userId',
    {
      schema: {
        summary: "Lift a ban (the chat's creator only): the user removed may join again",
        security: BEARER,
        params: Type.Object({ code: ChatCodeParams.properties.code, userId: Type.Integer({ minimum: 1, maximum: 2 ** 31 - 1 }) }),
        response: { 204: Type.Null(), ...PROBLEMS },
      },
    },
    async (request, reply) => {
      await chats.liftBan(await currentCaller(accounts, request), request.params.code, request.params.userId);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/chats/:code/members',
    {
      schema: {
        summary: 'Members of a chat (members only)',
        security: BEARER,
        params: ChatCodeParams,
        response: { 200: Type.Object({ members: Type.Array(Type.Ref('Member')) }), ...PROBLEMS },
      },
    },
    async (request) => ({ members: await chats.members(await currentCaller(accounts, request), request.params.code) }),
  );

  app.put(
    '/chats/:code/read',
    {
      schema: {
        summary: 'Move my read position forward (members only; never past the latest message, never back)',
        security: BEARER,
        params: ChatCodeParams,
        body: Type.Object({ seq: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }) }),
        response: { 200: Type.Ref('ReadPosition'), ...PROBLEMS },
      },
    },
    async (request) => chats.markRead(await currentCaller(accounts, request), request.params.code, request.body.seq),
  );
}

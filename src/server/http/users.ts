import { Type } from 'typebox';
import type { App, HttpServices } from './services.js';
import { currentUser } from './auth.js';
import { BEARER, PROBLEMS } from './schemas.js';

export function userRoutes(app: App, { accounts, settings }: HttpServices): void {
  app.post(
    '/users',
    {
      schema: {
        summary: 'Register an account',
        body: Type.Object({
          name: Type.String({ maxLength: 1024 }),
          email: Type.String({ maxLength: 1024 }),
          password: Type.String({ maxLength: 8192 }),
        }),
        response: { 201: Type.Ref('User'), ...PROBLEMS },
      },
    },
    async (request, reply) => reply.code(201).send(await accounts.register(request.body, request.ip)),
  );

  app.get(
    '/me',
    { schema: { summary: 'The logged-in user', security: BEARER, response: { 200: Type.Ref('User'), ...PROBLEMS } } },
    async (request) => currentUser(accounts, request),
  );

  app.get(
    '/me/settings',
    { schema: { summary: "The logged-in user's settings", security: BEARER, response: { 200: Type.Ref('Settings'), ...PROBLEMS } } },
    async (request) => settings.get(await currentUser(accounts, request)),
  );

  app.put(
    '/me/settings',
    {
      schema: {
        summary: 'Change settings: receipts off shows your read positions to nobody (they still drive your own unread counts)',
        security: BEARER,
        body: Type.Object({ receipts: Type.Boolean() }),
        response: { 200: Type.Ref('Settings'), ...PROBLEMS },
      },
    },
    async (request) => settings.update(await currentUser(accounts, request), { receipts: request.body.receipts }),
  );
}

import { Type } from 'typebox';
import type { App, HttpServices } from './services.js';
import { currentUser } from './auth.js';
import { BEARER, PROBLEMS } from './schemas.js';

export function userRoutes(app: App, { accounts }: HttpServices): void {
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
}

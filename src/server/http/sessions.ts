import { Type } from 'typebox';
import type { App, HttpServices } from './services.js';
import { bearerToken, currentUser } from './auth.js';
import { BEARER, PROBLEMS } from './schemas.js';

export function sessionRoutes(app: App, { accounts, sessionEnded }: HttpServices): void {
  app.post(
    '/sessions',
    {
      schema: {
        summary: 'Log in',
        body: Type.Object({ email: Type.String({ maxLength: 1024 }), password: Type.String({ maxLength: 8192 }) }),
        response: { 201: Type.Ref('Session'), ...PROBLEMS },
      },
    },
    async (request, reply) => reply.code(201).send(await accounts.login(request.body, request.ip)),
  );

  app.delete(
    '/sessions/current',
    { schema: { summary: 'Log out (revokes the token)', security: BEARER, response: { 204: Type.Null(), ...PROBLEMS } } },
    async (request, reply) => {
      await currentUser(accounts, request);
      const token = bearerToken(request) ?? '';
      await accounts.logout(token);
      sessionEnded?.(token);
      return reply.code(204).send(null);
    },
  );
}

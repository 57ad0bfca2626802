import { Type } from 'typebox';
import type { App } from './app.js';

export function healthRoutes(app: App): void {
  app.get(
    '/health',
    { schema: { summary: 'Liveness', response: { 200: Type.Object({ status: Type.Literal('ok') }) } } },
    async () => ({ status: 'ok' as const }),
  );
}

import { ChorusError } from '../protocol/errors.js';
import { stat } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';

/**
 * The built web UI (Vite's output), served as files. Both src/agent/ (run by tsx) and the
 * compiled dist/agent/ sit two folders below the package root, so the same relative path finds
 * web/dist from either.
 */
export const DEFAULT_UI_DIR = fileURLToPath(new URL('../../web/dist/', import.meta.url));

/** UI_NOT_BUILT: web/dist holds no built UI. */
export class UiNotBuiltError extends ChorusError {
  override readonly name = 'UiNotBuiltError';

  constructor(message: string) {
    super('UI_NOT_BUILT', message);
  }
}

/** The UI's folder, once it is known to hold a built UI; fails clearly when it does not. */
export async function builtUiDir(dir: string = DEFAULT_UI_DIR): Promise<string> {
  const root = resolve(dir);
  try {
    await stat(join(root, 'index.html'));
  } catch {
    throw new UiNotBuiltError(`the web UI is not built (no ${join(root, 'index.html')}): run npm run build:web`);
  }
  return root;
}

/**
 * Serves the files under `root` (index.html for "/"), and nothing else: @fastify/send refuses
 * paths that climb out of it, dotfiles are not found, and there is no directory listing.
 */
export async function serveUiFiles(app: FastifyInstance, root: string): Promise<void> {
  const assets = join(root, 'assets') + sep;
  await app.register(fastifyStatic, {
    root,
    dotfiles: 'ignore',
    list: false,
    redirect: false,
    decorateReply: false,
    cacheControl: false,
    // Vite names assets by content hash: they never change. The page itself must be re-read.
    setHeaders: (reply, path) => reply.header('cache-control', path.startsWith(assets) ? 'public, max-age=31536000, immutable' : 'no-store'),
  });
}

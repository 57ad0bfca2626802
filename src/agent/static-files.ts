import { readFile, stat } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The built web UI (Vite's output), served as files. Both src/agent/ (run by tsx) and the
 * compiled dist/agent/ sit two folders below the package root, so the same relative path finds
 * web/dist from either.
 */
export const DEFAULT_UI_DIR = fileURLToPath(new URL('../../web/dist/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.map': 'application/json',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

export class UiNotBuiltError extends Error {
  override readonly name = 'UiNotBuiltError';
}

export class StaticFiles {
  private readonly root: string;

  constructor(root: string = DEFAULT_UI_DIR) {
    this.root = resolve(root);
  }

  /** Fails clearly when the UI has not been built. */
  async check(): Promise<void> {
    try {
      await stat(join(this.root, 'index.html'));
    } catch {
      throw new UiNotBuiltError(`the web UI is not built (no ${join(this.root, 'index.html')}): run npm run build:web`);
    }
  }

  /** Writes the file for `pathname` (index.html for "/"); 404 for anything else. */
  async serve(pathname: string, response: ServerResponse, headOnly: boolean): Promise<void> {
    const relative = pathname === '/' ? 'index.html' : safeDecode(pathname.slice(1));
    const file = relative === undefined ? undefined : resolve(this.root, relative);
    // Nothing outside the UI folder, and no dotfiles.
    if (!file || !file.startsWith(this.root + sep) || relative!.split('/').some((p) => p.startsWith('.'))) {
      return notFound(response);
    }
    let body: Buffer;
    try {
      body = await readFile(file);
    } catch {
      return notFound(response);
    }
    const type = TYPES[extname(file)] ?? 'application/octet-stream';
    // Vite names assets by content hash: they never change. The page itself must be re-read.
    const cache = relative!.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-store';
    response.writeHead(200, { 'content-type': type, 'content-length': body.length, 'cache-control': cache });
    response.end(headOnly ? undefined : body);
  }
}

function safeDecode(path: string): string | undefined {
  try {
    const decoded = decodeURIComponent(path);
    return decoded.includes('\0') || decoded.includes('\\') ? undefined : decoded;
  } catch {
    return undefined;
  }
}

function notFound(response: ServerResponse): void {
  response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
  response.end('Not found\n');
}

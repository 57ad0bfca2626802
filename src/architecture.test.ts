import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The layering docs/architecture.md draws, checked on every test run: protocol at the bottom;
 * server and client beside each other; cli and agent above the client; web on top. Imports are
 * read from the sources (relative specifiers, `import`/`export … from` and dynamic `import()`).
 */

const ROOT = resolve(import.meta.dirname, '..');
const SOURCE_ROOTS = ['src', 'web/src'];

/** The layer a file belongs to: its folder under src/ (protocol, server, client, cli, agent), or web. */
function layerOf(file: string): string {
  const path = relative(ROOT, file);
  if (path.startsWith('web/')) return 'web';
  return path.split('/')[1]!;
}

/** Which layers each layer may import (besides itself). */
const ALLOWED: Record<string, string[]> = {
  protocol: [],
  server: ['protocol'],
  client: ['protocol'],
  agent: ['protocol', 'client'],
  cli: ['protocol', 'client', 'agent'],
  web: ['protocol', 'agent'],
};

/**
 * cli/ may reach into server/ only from the commands that start a server (`chorus server` and
 * `chorus up`), and only there: every other command stays a client.
 */
const SERVER_STARTERS = new Set(['src/cli/server.ts', 'src/cli/up.ts']);

/** web/ may import only the agent's UI protocol, never the agent itself. */
const WEB_MAY_IMPORT_FROM_AGENT = new Set(['src/agent/ui-protocol.ts']);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'node_modules' || name === 'dist' ? [] : sourceFiles(path);
    return /\.tsx?$/.test(name) && !/\.test\.tsx?$/.test(name) && !name.endsWith('.case.ts') ? [path] : [];
  });
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found: string[] = [];
  for (const match of text.matchAll(IMPORT)) {
    const specifier = match[1] ?? match[2]!;
    if (!specifier.startsWith('.')) continue;
    const target = resolve(dirname(file), specifier).replace(/\.js$/, '');
    const candidates = [`${target}.ts`, `${target}.tsx`, join(target, 'index.ts')];
    const resolved = candidates.find((candidate) => {
      try {
        return statSync(candidate).isFile();
      } catch {
        return false;
      }
    });
    if (resolved) found.push(resolved);
  }
  return found;
}

const files = SOURCE_ROOTS.flatMap((root) => sourceFiles(join(ROOT, root)));
const graph = new Map(files.map((file) => [file, importsOf(file)]));
const rel = (file: string) => relative(ROOT, file);

describe('architecture: imports point one way', () => {
  it('reads the sources', () => {
    expect(files.length).toBeGreaterThan(50);
    expect([...graph.values()].flat().length).toBeGreaterThan(100);
  });

  it('each layer imports only the layers below it', () => {
    const wrong: string[] = [];
    for (const [file, imports] of graph) {
      const from = layerOf(file);
      for (const target of imports) {
        const to = layerOf(target);
        if (to === from) continue;
        const allowed = ALLOWED[from]?.includes(to) || (from === 'cli' && to === 'server' && SERVER_STARTERS.has(rel(file)));
        const webOk = from !== 'web' || to !== 'agent' || WEB_MAY_IMPORT_FROM_AGENT.has(rel(target));
        if (!allowed || !webOk) wrong.push(`${rel(file)} -> ${rel(target)}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('no two layers import each other', () => {
    const edges = new Set<string>();
    for (const [file, imports] of graph) for (const target of imports) if (layerOf(file) !== layerOf(target)) edges.add(`${layerOf(file)} -> ${layerOf(target)}`);
    const mutual = [...edges].filter((edge) => {
      const [a, b] = edge.split(' -> ');
      return a! < b! && edges.has(`${b} -> ${a}`);
    });
    expect(mutual).toEqual([]);
  });

  it('has no import cycle', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'visiting' | 'done'>();
    const stack: string[] = [];
    const visit = (file: string) => {
      state.set(file, 'visiting');
      stack.push(file);
      for (const target of graph.get(file) ?? []) {
        if (state.get(target) === 'visiting') cycles.push([...stack.slice(stack.indexOf(target)), target].map(rel).join(' -> '));
        else if (!state.has(target)) visit(target);
      }
      stack.pop();
      state.set(file, 'done');
    };
    for (const file of files) if (!state.has(file)) visit(file);
    expect(cycles).toEqual([]);
  });
});

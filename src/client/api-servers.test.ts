import { describe, expect, it } from 'vitest';
import { ApiClient } from './api.js';
import { type ServerEndpoint, ServerList } from './server-list.js';

/** The API client on several servers, with a fetch that plays them: which one answers, and how. */

const A: ServerEndpoint = { url: 'http://a.example:6789' };
const B: ServerEndpoint = { url: 'http://b.example:6789' };

type Behaviour = 'answers' | 'refuses' | 'silent' | 'problem';

function setup(behaviour: Record<string, Behaviour>) {
  const calls: string[] = [];
  const fetchImpl = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(String(input));
    calls.push(`${init?.method} ${url.origin}${url.pathname}`);
    switch (behaviour[url.origin]) {
      case 'answers':
        return new Response(JSON.stringify({ status: 'ok', from: url.origin }), { status: 200, headers: { 'content-type': 'application/json' } });
      case 'problem':
        return new Response(JSON.stringify({ code: 'CHAT_NOT_FOUND', detail: 'no such chat' }), { status: 404, headers: { 'content-type': 'application/problem+json' } });
      case 'silent':
        throw new DOMException('no answer within 30 s', 'TimeoutError');
      default:
        throw new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) });
    }
  }) as typeof fetch;
  const list = new ServerList([A, B]);
  const api = new ApiClient({ servers: list, token: 'tok', fetch: fetchImpl });
  return { api, list, calls };
}

describe('ApiClient on several servers', () => {
  it('asks home while it answers', async () => {
    const { api, calls } = setup({ [A.url]: 'answers', [B.url]: 'answers' });
    await api.health();
    expect(calls).toEqual([`GET ${A.url}/api/health`]);
    expect(api.baseUrl).toBe(A.url);
    expect(api.homeUrl).toBe(A.url);
  });

  it('a request refused at the network level is asked of the next server, which is then used', async () => {
    const { api, list, calls } = setup({ [A.url]: 'refuses', [B.url]: 'answers' });
    await expect(api.health()).resolves.toMatchObject({ from: B.url });
    await api.me();
    expect(calls).toEqual([`GET ${A.url}/api/health`, `GET ${B.url}/api/health`, `GET ${B.url}/api/me`]);
    expect(list.current).toBe(B);
    expect(api.baseUrl).toBe(B.url);
    expect(api.homeUrl).toBe(A.url);
  });

  it('an HTTP refusal is an answer: not asked elsewhere', async () => {
    const { api, list, calls } = setup({ [A.url]: 'problem', [B.url]: 'answers' });
    await expect(api.getChat('ABCDE-12345')).rejects.toMatchObject({ code: 'CHAT_NOT_FOUND' });
    expect(calls).toHaveLength(1);
    expect(list.current).toBe(A);
  });

  it('no answer in time: a GET is asked again elsewhere, a POST is not (it may have been carried out)', async () => {
    const get = setup({ [A.url]: 'silent', [B.url]: 'answers' });
    await expect(get.api.listChats()).resolves.toBeUndefined();
    expect(get.calls).toEqual([`GET ${A.url}/api/chats`, `GET ${B.url}/api/chats`]);

    const post = setup({ [A.url]: 'silent', [B.url]: 'answers' });
    await expect(post.api.createChat('Team')).rejects.toMatchObject({ code: 'UNREACHABLE' });
    expect(post.calls).toEqual([`POST ${A.url}/api/chats`]);
    // The next request goes to the next server, all the same.
    expect(post.list.current).toBe(B);
  });

  it('no server answers: UNREACHABLE, each asked once', async () => {
    const { api, calls } = setup({ [A.url]: 'refuses', [B.url]: 'refuses' });
    await expect(api.health()).rejects.toMatchObject({ code: 'UNREACHABLE' });
    expect(calls).toEqual([`GET ${A.url}/api/health`, `GET ${B.url}/api/health`]);
  });

  it('withToken keeps the servers and the one in use', async () => {
    const { api, calls } = setup({ [A.url]: 'refuses', [B.url]: 'answers' });
    await api.health();
    await api.withToken(undefined).health();
    expect(calls.at(-1)).toBe(`GET ${B.url}/api/health`);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http, signUp, startTestServer, type TestServer } from './support/server.js';

/**
 * What the accounts and chats API stores: names that cannot pass for another, text both engines
 * store alike (PostgreSQL refuses U+0000 where SQLite keeps it), and passwords not on an
 * attacker's first list. Every refusal is a 400 naming the field, with a reason a client can
 * show as it is; none is a 500 on either engine.
 */

let server: TestServer;
let call: ReturnType<typeof http>;

beforeAll(async () => {
  server = await startTestServer();
  call = http(server.httpUrl);
});
afterAll(async () => server.dispose());

let serial = 0;
const register = (fields: { name?: string; email?: string; password?: string }) =>
  call('POST', '/api/users', { json: { name: 'Someone', email: `someone${++serial}@example.test`, password: 'correct horse battery', ...fields } });

function expectRefused(r: { status: number; body: any }, field: string, detail: RegExp) {
  expect(r.status).toBe(400);
  expect(r.body).toMatchObject({ code: 'INVALID_FIELD', field });
  expect(r.body.detail).toMatch(detail);
}

describe('look-alike names', () => {
  it.each([
    ['alice\u200b', /U\+200B/],
    ['\u202egnp.exe', /U\+202E/],
    ['ali\u2067ce', /U\+2067/],
    ['nul\u0000name', /NUL/],
    ['half\ud800', /not well-formed/],
    ['alice\u2065', /U\+2065/],
    ['\u3164', /U\+3164/],
    ['\u2800', /U\+2800/],
    ['alice\u0378', /not assigned yet \(found U\+0378\)/],
  ])('refuses the user name %j with a reason', async (name, detail) => {
    expectRefused(await register({ name }), 'name', detail);
  });

  it.each([
    ['team\u200b', /U\+200B/],
    ['\u202etxt.exe', /U\+202E/],
    ['room\u0000', /NUL/],
    ['\uffa0', /U\+FFA0/],
    ['room\u115f', /U\+115F/],
  ])('refuses the chat name %j with a reason', async (name, detail) => {
    const { token } = await signUp(server.httpUrl, `Creator ${++serial}`, `creator${serial}@example.test`);
    expectRefused(await call('POST', '/api/chats', { token, json: { name } }), 'name', detail);
  });

  it('takes emoji names built with joiners and selectors, as typed', async () => {
    for (const name of ['Ana 👩\u200d💻', '❤\ufe0f']) {
      const registered = await register({ name });
      expect(registered.status, name).toBe(201);
      expect(registered.body.name).toBe(name);
    }
  });

  it('stores names in NFC: one name typed two ways is the same name', async () => {
    const decomposed = await register({ name: 'Zoe\u0308' });
    expect(decomposed.status).toBe(201);
    expect(decomposed.body.name).toBe('Zo\u00eb');
    const { token } = await signUp(server.httpUrl, 'Chat Maker', 'chat.maker@example.test');
    const chat = await call('POST', '/api/chats', { token, json: { name: 'Cafe\u0301' } });
    expect(chat.status).toBe(201);
    expect(chat.body.name).toBe('Caf\u00e9');
  });
});

describe('emails the databases cannot store alike', () => {
  it('refuses NUL or a lone surrogate in an email at registration with 400, never 500', async () => {
    expectRefused(await register({ email: 'nul\u0000@example.test' }), 'email', /NUL/);
    expectRefused(await register({ email: 'half\udc00@example.test' }), 'email', /not well-formed/);
    expectRefused(await register({ email: 'zero\u200bwidth@example.test' }), 'email', /U\+200B/);
  });

  it('refuses NUL or a lone surrogate in an email at login with 400, never 500', async () => {
    const nul = await call('POST', '/api/sessions', { json: { email: 'someone\u0000@example.test', password: 'correct horse battery' } });
    expectRefused(nul, 'email', /NUL/);
    const half = await call('POST', '/api/sessions', { json: { email: '\ud800@example.test', password: 'correct horse battery' } });
    expectRefused(half, 'email', /not well-formed/);
  });

  it('finds the account by an email typed in another Unicode form', async () => {
    const r = await register({ email: 'jose\u0301@example.test' });
    expect(r.status).toBe(201);
    expect(r.body.email).toBe('jos\u00e9@example.test');
    const login = await call('POST', '/api/sessions', { json: { email: 'JOSÉ@example.test'.normalize('NFD'), password: 'correct horse battery' } });
    expect(login.status).toBe(201);
  });
});

describe('weak passwords', () => {
  it.each(['password', '12345678', 'qwertyuiop', 'Password1!'])('refuses %j as too common, saying so', async (password) => {
    expectRefused(await register({ password }), 'password', /^Password is too common: it is on lists of passwords attackers try first/);
  });

  it('refuses a password built from the user’s own name or email', async () => {
    expectRefused(await register({ name: 'Margaret Hamilton', email: 'margaret.hamilton@example.test', password: 'hamilton1936' }), 'password', /^Password must not be built from your name or email address$/);
    expectRefused(await register({ name: 'Q', email: 'katherine.johnson@example.test', password: 'katherine.johnson' }), 'password', /name or email/);
  });

  it('takes a passphrase, and still refuses a short one first for its length', async () => {
    expect((await register({ password: 'analytical engine' })).status).toBe(201);
    expectRefused(await register({ password: 'short' }), 'password', /at least 8 characters/);
  });
});

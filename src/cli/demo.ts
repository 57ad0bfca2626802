import { ApiClient } from '../client/api.js';
import { ChorusError } from '../protocol/errors.js';

/**
 * `chorus up --demo`: the original project's two test users and a chat they are both in, so a
 * newcomer can try Chorus in a minute. Their passwords are printed, and so public: up.ts
 * refuses --demo on anything but loopback. Run again on the same data folder, it finds the users
 * and the chat instead of failing.
 */

export interface DemoUser {
  name: string;
  email: string;
  /** Passes the server's password rule (src/protocol/password-rule.ts): not built from the name or email, not common. */
  password: string;
}

export const DEMO_USERS: readonly DemoUser[] = [
  { name: 'Carlos', email: 'carlos@gmail.com', password: 'violet harbor lantern' },
  { name: 'Luis', email: 'luis@gmail.com', password: 'copper meadow falcon' },
];

export const DEMO_CHAT = 'Demo';

export interface DemoSeed {
  users: readonly DemoUser[];
  chat: { name: string; code: string };
}

/** Creates (or finds) the demo users and their chat on the server at `serverUrl`. */
export async function seedDemo(serverUrl: string, tlsFingerprint?: string): Promise<DemoSeed> {
  const api = new ApiClient({ baseUrl: serverUrl, ...(tlsFingerprint ? { tlsFingerprint } : {}) });
  const [owner, ...others] = await Promise.all(DEMO_USERS.map((user) => signedIn(api, user)));
  const existing = (await owner!.listChats()).find((chat) => chat.name === DEMO_CHAT);
  const chat = existing ?? (await owner!.createChat(DEMO_CHAT));
  for (const other of others) {
    const theirs = await other.listChats();
    if (!theirs.some((c) => c.code === chat.code)) await other.joinChat(chat.code);
  }
  return { users: DEMO_USERS, chat: { name: chat.name, code: chat.code } };
}

/** Registers the user, or, when a first `--demo` already did, logs in. */
async function signedIn(api: ApiClient, user: DemoUser): Promise<ApiClient> {
  try {
    await api.register(user);
  } catch (error) {
    if (!(error instanceof ChorusError && error.code === 'EMAIL_TAKEN')) throw error;
  }
  const session = await api.login({ email: user.email, password: user.password });
  return api.withToken(session.token);
}

/** The banner: big enough that nobody mistakes a demo for a real server. */
export function demoBanner(seed: DemoSeed, secondClient: string, windowOpens = true): string {
  const rule = '#'.repeat(72);
  const users = seed.users.map((u) => `#    ${u.name.padEnd(8)} ${u.email.padEnd(20)} password: ${u.password}`);
  return [
    '',
    rule,
    '#',
    '#    ####   #####  #     #   ####',
    '#    #   #  #      ##   ##  #    #',
    '#    #   #  ####   # # # #  #    #      D E M O   M O D E',
    '#    #   #  #      #  #  #  #    #',
    '#    ####   #####  #     #   ####',
    '#',
    '#    Test accounts, with public passwords, on this machine only (loopback):',
    ...users,
    `#    Both are in the chat "${seed.chat.name}" (code ${seed.chat.code}).`,
    '#',
    `#    Log in as Carlos ${windowOpens ? 'in the window that opens' : 'at the address printed below'}; to be Luis too, run in another terminal`,
    `#      ${secondClient}`,
    '#',
    rule,
    '',
  ].join('\n');
}

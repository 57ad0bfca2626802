import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Profile } from '../../src/client/profile.js';
import { http } from './server.js';

/** The profile a command or an agent saved in `dir`, as on disk. */
export const savedProfile = (dir: string): Profile => JSON.parse(readFileSync(join(dir, 'profile.json'), 'utf8'));

/** What the server says of a token now: 200 while its session is valid, 401 once it ended. */
export async function sessionStatus(baseUrl: string, token: string): Promise<number> {
  return (await http(baseUrl)('GET', '/api/me', { token })).status;
}

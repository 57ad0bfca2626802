import { ChorusError } from '../protocol/errors.js';
import { chmod, mkdir, readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { isFingerprint } from './certificate-pin.js';
import { writePrivateJsonFile } from './private-json-file.js';
import type { ServerEndpoint } from './server-list.js';

/**
 * A user's client state, kept in a profile folder: which server, the session token, who is
 * logged in. The token is a credential, so the folder is the user's alone (0700) and the file is
 * readable by the user only (0600), written atomically so a crash never leaves half a profile.
 */
export interface Profile {
  /** Base URL of the server, e.g. http://127.0.0.1:6789 */
  server: string;
  token?: string;
  /**
   * When the session ends by itself (ISO 8601), as the server said at the login: what a logout
   * that cannot reach the server tells the user, since the session stays valid there until then.
   */
  expiresAt?: string;
  user?: { id: number; name: string; email: string };
  /** The server's signing key (Ed25519, base64), pinned at the first login: every datagram received is checked against it. */
  serverKey?: string;
  /**
   * For an https:// server: the SHA-256 fingerprint of its TLS certificate, pinned at the first
   * login (colon-separated uppercase hex). Every connection to the server must present it.
   */
  tlsFingerprint?: string;
  /**
   * Further servers of the same cluster (`chorus login --server A --server B`), tried in order
   * when the home server above does not answer. Each has its own pins, taken at the login: the
   * sites share the database, not their certificates or signing keys.
   */
  alternates?: AlternateServer[];
}

/** A server besides the home one, with its own pins. */
export interface AlternateServer {
  server: string;
  serverKey?: string;
  tlsFingerprint?: string;
}

export const PROFILE_FILE = 'profile.json';

/** A profile file that exists but cannot be read as a profile (PROFILE_INVALID). */
export class ProfileError extends ChorusError {
  override readonly name = 'ProfileError';

  constructor(message: string) {
    super('PROFILE_INVALID', message);
  }
}

/**
 * Where the profile lives: the explicit folder (--profile), else CHORUS_HOME, else the user's
 * config folder ($XDG_CONFIG_HOME/chorus or ~/.config/chorus). The environment is passed in,
 * so only the program's edge reads process.env.
 */
export function resolveProfileDir(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (explicit) return resolve(explicit);
  if (env.CHORUS_HOME) return resolve(env.CHORUS_HOME);
  if (env.XDG_CONFIG_HOME) return join(resolve(env.XDG_CONFIG_HOME), 'chorus');
  return join(env.HOME || homedir(), '.config', 'chorus');
}

/** The profile in `dir`, or undefined when there is none yet. The folder is made private first. */
export async function loadProfile(dir: string): Promise<Profile | undefined> {
  const file = join(dir, PROFILE_FILE);
  await makePrivate(dir);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ProfileError(`cannot read the profile ${file}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ProfileError(`the profile ${file} is not valid JSON: fix or delete it`);
  }
  if (!isProfile(parsed)) throw new ProfileError(`the profile ${file} is not a Chorus profile: fix or delete it`);
  return parsed;
}

/** Writes the profile: a private temporary file in the same folder, flushed, then renamed over. */
export async function saveProfile(dir: string, profile: Profile): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await makePrivate(dir);
  await writePrivateJsonFile(dir, PROFILE_FILE, profile, { sync: true });
}

/**
 * The profile folder, created if need be, the user's own and private (0700), before anything in
 * it is read, written or connected to. `chorus client` asks the agent's control socket in the
 * folder for a launch link: in a folder someone else made (`--profile /tmp/grace` made first
 * by another user), that other user could answer with a link of their choosing.
 */
export async function preparePrivateFolder(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new ProfileError(`cannot create the profile folder ${dir}: ${(error as Error).message}`);
  }
  await makePrivate(dir);
}

/**
 * The folder 0700 and the profile file 0600, whatever they were: a folder that existed before
 * (made by hand, restored from a backup) keeps its mode otherwise, and mkdir's mode is filtered
 * by the umask. The folder's mode is what keeps the agent's other files in it private too; and
 * it must be the user's own, or its owner could still put files in it, whatever its mode.
 */
async function makePrivate(dir: string): Promise<void> {
  await refuseOthers(dir);
  await restrict(dir, 0o700);
  await restrict(join(dir, PROFILE_FILE), 0o600);
}

/** Refuses a folder that belongs to another user, root's included. Where there are no uids (Windows), nothing to check. */
async function refuseOthers(dir: string): Promise<void> {
  const uid = process.getuid?.();
  if (uid === undefined) return;
  let owner: number;
  try {
    owner = (await stat(dir)).uid;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new ProfileError(`cannot read ${dir}: ${(error as Error).message}`);
  }
  if (owner !== uid) throw new ProfileError(`${dir} belongs to another user (uid ${owner}): a profile folder must be your own; choose another with --profile`);
}

async function restrict(path: string, mode: number): Promise<void> {
  let current: number;
  try {
    current = (await stat(path)).mode & 0o777;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new ProfileError(`cannot read ${path}: ${(error as Error).message}`);
  }
  if (current === mode) return;
  try {
    await chmod(path, mode);
  } catch (error) {
    const octal = mode.toString(8);
    throw new ProfileError(`${path} is readable by others and cannot be made private (${(error as NodeJS.ErrnoException).code}): run chmod ${octal} ${path}`);
  }
}

function isProfile(value: unknown): value is Profile {
  if (typeof value !== 'object' || value === null) return false;
  const p = value as Record<string, unknown>;
  if (typeof p.server !== 'string') return false;
  if (p.token !== undefined && typeof p.token !== 'string') return false;
  if (p.expiresAt !== undefined && typeof p.expiresAt !== 'string') return false;
  if (!hasValidPins(p)) return false;
  if (p.alternates !== undefined && (!Array.isArray(p.alternates) || !p.alternates.every(isAlternate))) return false;
  if (p.user !== undefined) {
    const u = p.user as Record<string, unknown> | null;
    if (typeof u !== 'object' || u === null) return false;
    if (typeof u.id !== 'number' || typeof u.name !== 'string' || typeof u.email !== 'string') return false;
  }
  return true;
}

function isAlternate(value: unknown): value is AlternateServer {
  if (typeof value !== 'object' || value === null) return false;
  const a = value as Record<string, unknown>;
  return typeof a.server === 'string' && hasValidPins(a);
}

function hasValidPins(p: Record<string, unknown>): boolean {
  if (p.serverKey !== undefined && typeof p.serverKey !== 'string') return false;
  return p.tlsFingerprint === undefined || (typeof p.tlsFingerprint === 'string' && isFingerprint(p.tlsFingerprint));
}

/** The profile's servers, home first, each with its pins. */
export function profileServers(profile: Profile): ServerEndpoint[] {
  const endpoint = (server: string, pins: Pick<Profile, 'serverKey' | 'tlsFingerprint'>): ServerEndpoint => ({
    url: server,
    ...(pins.tlsFingerprint ? { tlsFingerprint: pins.tlsFingerprint } : {}),
    ...(pins.serverKey ? { serverKey: pins.serverKey } : {}),
  });
  return [endpoint(profile.server, profile), ...(profile.alternates ?? []).map((a) => endpoint(a.server, a))];
}

/** The profile after its session ended or was forgotten: its servers and their pins, nothing of the session. */
export function withoutSession(profile: Profile): Profile {
  const { server, alternates } = profile;
  return { server, ...pinsOf(profile, server), ...(alternates?.length ? { alternates } : {}) };
}

/** What the profile pinned for `server` (home or an alternate), if it lists it. */
export function pinsOf(profile: Profile | undefined, server: string): Pick<Profile, 'serverKey' | 'tlsFingerprint'> {
  const entry = profile?.server === server ? profile : profile?.alternates?.find((a) => a.server === server);
  if (!entry) return {};
  return { ...(entry.serverKey ? { serverKey: entry.serverKey } : {}), ...(entry.tlsFingerprint ? { tlsFingerprint: entry.tlsFingerprint } : {}) };
}

import type { Command } from 'commander';
import { ApiClient, type Session, type User } from '../client/api.js';
import { type Profile, loadProfile, pinsOf, profileServers, resolveProfileDir, saveProfile, withoutSession } from '../client/profile.js';
import { checkServerKey } from '../client/server-key.js';
import { profileApi } from '../client/several-servers.js';
import { type SessionEnd, endProfileSession } from '../client/session-end.js';
import { ChorusError } from '../protocol/errors.js';
import { chorusCommand, loginCommand, setLoginEmail } from './invocation.js';
import { CliError, localMinute, printNote, printResult, terminalSafe, usageError } from './output.js';
import { DEFAULT_SERVER, serverUrl } from './options.js';
import { FINGERPRINT_HELP, fingerprintToPin } from './trust.js';

/** `chorus register`, `login`, `logout`, `whoami`, and the logged-in session other commands use. */


export const PASSWORD_HELP = `The password is never a flag. It comes from --password-stdin (one line read from stdin),
else the CHORUS_PASSWORD environment variable, else a prompt that does not echo.`;

interface AccountOptions {
  /** --server, repeated or comma-separated: home first. */
  server?: string[];
  /** --fingerprint, repeated: one per https:// server, in the order of the servers. */
  fingerprint?: string[];
  passwordStdin?: boolean;
  json?: boolean;
}

export function registerAccountCommands(program: Command, env: NodeJS.ProcessEnv): void {
  program
    .command('register')
    .description('create an account on a server, and log in to it')
    .requiredOption('--name <name>', 'the name others see (1..64 characters)')
    .requiredOption('--email <email>', 'the email address you log in with')
    .option('--server <url>', SERVER_HELP, collectServers)
    .option('--fingerprint <hex>', FINGERPRINT_HELP, collect)
    .option('--password-stdin', 'read the password from the first line of stdin')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', `\n${PASSWORD_HELP} When prompting, it asks twice.\n${TLS_HELP}`)
    .action(async (options: AccountOptions & { name: string; email: string }, command: Command) => {
      setLoginEmail(options.email); // "already exists: log in" names it
      const dir = profileDirOf(command, env);
      const previous = await loadProfile(dir);
      const servers = await pinnedServers(options, previous, dir);
      const client = servers[0]!.client;
      // Loaded only here: zxcvbn's word lists take about 0.1 s to load, which no other command should pay.
      const { passwordProblem } = await import('../protocol/password-rule.js');
      const password = await readPassword(options, env, {
        confirm: true,
        problem: (candidate) => passwordProblem(candidate, { name: options.name, email: options.email })?.message,
      });
      const user = await client.register({ name: options.name, email: options.email, password });
      const session = await client.login({ email: user.email, password });
      await saveProfile(dir, loggedIn(servers, session));
      const replaced = await endReplacedSession(previous, session.token);
      printResult(options.json, { ...serversView(servers), user, expiresAt: session.expiresAt, ...(replaced ? { previousSession: replaced } : {}) }, () =>
        `Registered ${describeUser(user)} at ${client.baseUrl}, and logged in.${alsoLine(servers)}`,
      );
      if (replaced && !replaced.ended) printNote(replacedWarning(replaced));
    });

  program
    .command('login')
    .description('log in; the session is kept in the profile')
    .option('--email <email>', 'your email address (default: the one this profile was last logged in with, after its session ended)')
    .option('--server <url>', SERVER_HELP, collectServers)
    .option('--fingerprint <hex>', FINGERPRINT_HELP, collect)
    .option('--password-stdin', 'read the password from the first line of stdin')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', `\n${PASSWORD_HELP}\n${TLS_HELP}`)
    .action(async (options: AccountOptions & { email?: string }, command: Command) => {
      const dir = profileDirOf(command, env);
      const previous = await loadProfile(dir);
      // "Log in again", when a session ended, is then the command alone: the profile still names its user.
      const email = options.email ?? previous?.user?.email;
      if (email === undefined) throw usageError('give --email: this profile does not know whom to log in as');
      const servers = await pinnedServers(options, previous, dir);
      const client = servers[0]!.client;
      const password = await readPassword(options, env, { confirm: false });
      const session = await client.login({ email, password });
      await saveProfile(dir, loggedIn(servers, session));
      // Only now, the new session saved: ending the old one never stands in the way of the login.
      const replaced = await endReplacedSession(previous, session.token);
      const view = { ...serversView(servers), user: session.user, expiresAt: session.expiresAt, ...(replaced ? { previousSession: replaced } : {}) };
      printResult(options.json, view, () =>
        `Logged in as ${describeUser(session.user)} at ${client.baseUrl} (until ${localMinute(session.expiresAt)}).${alsoLine(servers)}`,
      );
      if (replaced && !replaced.ended) printNote(replacedWarning(replaced));
    });

  program
    .command('logout')
    .description('end the session: end it on the server, then forget it here')
    .option('--forget', 'forget the session here even if the server cannot end it (it then stays valid there until it expires)')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', `\n${LOGOUT_HELP}`)
    .action(async (options: { forget?: boolean; json?: boolean }, command: Command) => {
      const dir = profileDirOf(command, env);
      const profile = await loadProfile(dir);
      if (!profile?.token) {
        printResult(options.json, { loggedOut: true, revoked: false }, () => 'Not logged in.');
        return;
      }
      // Ended on the server before it is forgotten here: the token is what ends it, so forgotten
      // first it could not be ended at all once the server failed to answer (see LOGOUT_HELP).
      const end = await endProfileSession({ ...profile, token: profile.token });
      if (end.ended || options.forget) await saveProfile(dir, withoutSession(profile));
      if (end.ended) {
        printResult(options.json, { loggedOut: true, revoked: true }, () => 'Logged out.');
        return;
      }
      const lives = `so the session was not ended there and stays valid ${validUntil(profile.expiresAt)}`;
      const view = { loggedOut: options.forget === true, revoked: false, reason: end.reason, ...(profile.expiresAt ? { expiresAt: profile.expiresAt } : {}) };
      if (options.forget) {
        printResult(options.json, view, () => terminalSafe(`Logged out here only: ${end.reason}, ${lives}.`));
        return;
      }
      if (options.json) printResult(true, view, () => '');
      throw new CliError(
        `not logged out: ${end.reason}, ${lives}. The profile keeps it: run ${chorusCommand('logout')} again once the server answers, ` +
          `or ${chorusCommand('logout --forget')} to forget it here anyway`,
      );
    });

  program
    .command('whoami')
    .description('show who is logged in, and where')
    .option('--json', 'print the result as JSON')
    .action(async (options: { json?: boolean }, command: Command) => {
      const { client, profile } = await requireSession(command, env);
      let user: User;
      try {
        user = await client.me();
      } catch (error) {
        // The server away is no reason to hide who the profile is logged in as: said, unchecked, and the command still fails.
        if (!(error instanceof ChorusError && error.code === 'UNREACHABLE') || !profile.user) throw error;
        const known = profile.user;
        printResult(options.json, { server: client.baseUrl, user: known, checked: false }, () => `${describeUser(known)} at ${client.baseUrl} (as last logged in: the session could not be checked)`);
        throw error;
      }
      printResult(options.json, { server: client.baseUrl, user }, () => `${describeUser(user)} at ${client.baseUrl}`);
    });
}

/** The profile folder this command uses (--profile, else CHORUS_HOME, else the config folder). */
export function profileDirOf(command: Command, env: NodeJS.ProcessEnv): string {
  return resolveProfileDir(command.optsWithGlobals<{ profile?: string }>().profile, env);
}

/** An API client with the profile's session, or a clear "not logged in". */
export async function requireSession(command: Command, env: NodeJS.ProcessEnv): Promise<{ client: ApiClient; profile: Profile }> {
  const profile = await loadProfile(profileDirOf(command, env));
  setLoginEmail(profile?.user?.email);
  if (!profile?.token) throw new CliError(`not logged in: run ${loginCommand()}, or ${chorusCommand('register')} to make an account`);
  return { client: profileApi(profile), profile };
}

/**
 * Ends the session a login replaced (another user's, or the same user's older one), if the
 * profile held one: undefined when it held none. Forgotten without this, it would stay valid on
 * the server with no copy left here to end it.
 */
async function endReplacedSession(previous: Profile | undefined, newToken: string): Promise<(SessionEnd & ReplacedSession) | undefined> {
  if (!previous?.token || previous.token === newToken) return undefined;
  const end = await endProfileSession({ ...previous, token: previous.token });
  const who = { server: previous.server, ...(previous.user ? { user: previous.user } : {}), ...(previous.expiresAt ? { expiresAt: previous.expiresAt } : {}) };
  return { ...end, ...who };
}

/** The session a login replaced, as login --json shows it (with `ended` and, when it was not, `reason`). */
interface ReplacedSession {
  server: string;
  user?: Pick<User, 'id' | 'name' | 'email'>;
  expiresAt?: string;
}

function replacedWarning(replaced: ReplacedSession & { reason: string }): string {
  const whose = replaced.user ? `${describeUser(replaced.user)} at ${replaced.server}` : `at ${replaced.server}`;
  return terminalSafe(`chorus: the session this profile held before (${whose}) could not be ended: ${replaced.reason}; it stays valid there ${validUntil(replaced.expiresAt)}`);
}

/** "until 2026-12-24 10:31", or "until it expires" for a profile saved before logins noted when. */
function validUntil(expiresAt: string | undefined): string {
  return expiresAt ? `until ${localMinute(expiresAt)}` : 'until it expires';
}

/** A server of a login, with the pins taken for it, and an API client that uses them. */
interface PinnedServer {
  client: ApiClient;
  tlsFingerprint?: string;
  serverKey: string;
}

/**
 * The profile after a login: the session, and each server with its pins (home first). Each
 * signing key was checked against the one pinned before for that server (kept through logouts
 * as long as the server is listed), else learned now.
 */
function loggedIn(servers: PinnedServer[], session: Session): Profile {
  const { id, name, email } = session.user;
  const [home, ...others] = servers.map(({ client, tlsFingerprint, serverKey }) => ({ server: client.baseUrl, serverKey, ...(tlsFingerprint ? { tlsFingerprint } : {}) }));
  return { ...home!, token: session.token, expiresAt: session.expiresAt, user: { id, name, email }, ...(others.length > 0 ? { alternates: others } : {}) };
}

/** What login and register print with --json: the home server, the others, and the pinned certificates. */
function serversView(servers: PinnedServer[]) {
  const [home, ...others] = servers;
  return {
    server: home!.client.baseUrl,
    ...(home!.tlsFingerprint ? { tlsFingerprint: home!.tlsFingerprint } : {}),
    ...(others.length > 0 ? { alternates: others.map((o) => ({ server: o.client.baseUrl, ...(o.tlsFingerprint ? { tlsFingerprint: o.tlsFingerprint } : {}) })) } : {}),
  };
}

function alsoLine(servers: PinnedServer[]): string {
  if (servers.length < 2) return '';
  return `\nWhen it does not answer: ${servers.slice(1).map((s) => s.client.baseUrl).join(', ')}.`;
}

const LOGOUT_HELP = `The session is ended on the server first, then forgotten in the profile. When the server cannot
end it (it does not answer, or refuses), the profile keeps the token and the command fails (exit 1),
saying until when the session stays valid: a token forgotten here would stay valid on the server
with nothing left to end it. Run logout again once the server answers. --forget forgets it here
anyway (leaving a shared machine, a server gone for good); the session then ends only when it expires.`;

const SERVER_HELP = `the server's address (a URL, or host:port: http on loopback, https beyond); repeat it (or give a comma list) for several servers of one cluster, home first (default: the profile's servers, else ${DEFAULT_SERVER})`;

const TLS_HELP = `An https:// server's certificate is pinned in the profile at the first login: confirm its
fingerprint at the prompt, or give it with --fingerprint. A server presenting another one later is refused.
With several servers each is pinned (its certificate, and the key that signs its messages), so each
must answer at the login; --fingerprint is then given once per https:// server, in their order.
When the first (home) does not answer, commands use the next; tail and chat go back home once it answers.`;

/**
 * The servers of a login, home first: each one's certificate pinned (asked for on first contact)
 * before anything is sent to it, then its signing key checked against the pin, or learned.
 */
async function pinnedServers(options: AccountOptions, previous: Profile | undefined, dir: string): Promise<PinnedServer[]> {
  const urls = options.server ?? (previous ? profileServers(previous).map((e) => e.url) : [DEFAULT_SERVER]);
  const unique = [...new Set(urls)];
  const https = unique.filter((url) => url.startsWith('https:'));
  const fingerprints = options.fingerprint ?? [];
  if (fingerprints.length > 0 && fingerprints.length !== Math.max(1, https.length)) {
    throw usageError(`give one --fingerprint per https:// server, in their order: ${https.length} server${https.length === 1 ? '' : 's'}, ${fingerprints.length} --fingerprint`);
  }
  const servers: PinnedServer[] = [];
  for (const url of unique) {
    const flag = fingerprints.length > 0 ? fingerprints[Math.max(0, https.indexOf(url))] : undefined;
    const pins = pinsOf(previous, url);
    const tlsFingerprint = await fingerprintToPin(url, pins.tlsFingerprint, https.includes(url) || unique.length === 1 ? flag : undefined);
    const client = new ApiClient({ baseUrl: url, tlsFingerprint });
    const key = await checkServerKey(client, pins.serverKey, dir).catch((error: unknown) => {
      throw (tlsFingerprint !== pins.tlsFingerprint && notTheFingerprintGiven(error, url, tlsFingerprint)) || error;
    });
    servers.push({ client, serverKey: key.publicKey, ...(tlsFingerprint ? { tlsFingerprint } : {}) });
  }
  return servers;
}

/**
 * A --fingerprint this profile had not pinned, which the server does not present: a mistype, or
 * another server at that address. Not "the certificate changed", which says a pinned one did.
 */
function notTheFingerprintGiven(error: unknown, url: string, given: string | undefined): CliError | undefined {
  if (!(error instanceof ChorusError) || error.code !== 'CERTIFICATE_CHANGED' || given === undefined) return undefined;
  const presented = /got ([0-9A-F:]{95})/.exec(error.message)?.[1] ?? 'another certificate';
  return new CliError(
    `${url} presents ${presented}, not the certificate --fingerprint gives (${given}): check it against what \`chorus server\` printed when it started; ` +
      'if it is right, another server (or someone posing as it) answers at that address. Nothing was sent to it',
  );
}

/** For commander: --server given again, or as a comma list, adds to the servers. */
function collectServers(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(',').map((part) => part.trim()).filter((part) => part !== '').map(serverUrl)];
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

interface PasswordPrompt {
  /** Ask twice, and again until both entries agree. */
  confirm: boolean;
  /** Why a new password would be refused: at a prompt it is said and asked again, before the server is asked. */
  problem?: (password: string) => string | undefined;
}

/**
 * --password-stdin, else CHORUS_PASSWORD, else a prompt without echo. At a prompt a new password
 * the rule refuses, or a confirmation that differs, is said and asked again; from stdin or the
 * environment nobody can answer, so the server's refusal ends the command.
 */
async function readPassword(options: AccountOptions, env: NodeJS.ProcessEnv, { confirm, problem }: PasswordPrompt): Promise<string> {
  if (options.passwordStdin) {
    const password = await readFirstLine(process.stdin);
    if (password === '') throw usageError('--password-stdin: stdin held no password');
    return password;
  }
  if (env.CHORUS_PASSWORD) return env.CHORUS_PASSWORD;
  if (!process.stdin.isTTY) {
    throw usageError('no password: not in a terminal, so give it with --password-stdin or CHORUS_PASSWORD');
  }
  for (;;) {
    const password = await promptHidden('Password: ');
    if (password === '') throw usageError('no password given');
    const refused = problem?.(password);
    if (refused) {
      process.stderr.write(`${refused}. Try another (Ctrl-C cancels).\n`);
      continue;
    }
    if (!confirm || (await promptHidden('Confirm password: ')) === password) return password;
    process.stderr.write('The two passwords do not match. Try again (Ctrl-C cancels).\n');
  }
}

async function readFirstLine(stream: NodeJS.ReadStream): Promise<string> {
  stream.setEncoding('utf8');
  let text = '';
  for await (const chunk of stream) {
    text += chunk as string;
    if (text.includes('\n')) break;
  }
  return text.split('\n')[0]!.replace(/\r$/, '');
}

/** Reads a line from the terminal in raw mode, echoing nothing. Ctrl-C cancels. */
function promptHidden(question: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(question);
  stdin.setRawMode(true);
  stdin.setEncoding('utf8');
  stdin.resume();
  return new Promise((resolve, reject) => {
    let answer = '';
    const finish = () => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') {
          finish();
          resolve(answer);
          return;
        }
        if (ch === '\u0003' || (ch === '\u0004' && answer === '')) {
          finish();
          reject(new CliError('cancelled', 130));
          return;
        }
        if (ch === '\u007f' || ch === '\b') answer = [...answer].slice(0, -1).join('');
        else if (ch >= ' ') answer += ch;
      }
    };
    stdin.on('data', onData);
  });
}

function describeUser(user: Pick<User, 'name' | 'email'>): string {
  return `${terminalSafe(user.name)} <${terminalSafe(user.email)}>`;
}

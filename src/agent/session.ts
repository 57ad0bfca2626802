import { type FSWatcher, mkdirSync, watch } from 'node:fs';
import { ApiClient, type User } from '../client/api.js';
import { PROFILE_FILE, type Profile, loadProfile, pinsOf, saveProfile, withoutSession } from '../client/profile.js';
import { senderTarget, serverListOf } from '../client/several-servers.js';
import { checkServerKey } from '../client/server-key.js';
import { endProfileSession, endSession } from '../client/session-end.js';
import { publicKeyFromBase64 } from '../protocol/crypto.js';
import { ChorusError, chorusError } from '../protocol/errors.js';
import { Messaging } from './messaging.js';
import { ReadPositions } from './read-positions.js';
import { asSentence, isSessionEnded, mayMeanSessionEnded } from './ui-errors.js';
import type { ConnectionState, UiPush, UiReplacedSession, UiResults, UiSessionNotEnded, UiUser } from './ui-protocol.js';

export interface SessionOptions {
  profileDir: string;
  /** The server's base URL, e.g. http://127.0.0.1:6789 */
  server: string;
  /** For an https:// server: the certificate fingerprint to pin (--fingerprint), else the profile's. */
  tlsFingerprint?: string;
  /** Where the receiver joins multicast groups. */
  interfaceAddress: string;
  /** How the person starts this client again (e.g. "npm start"), shown by the tab while it is away. */
  relaunch?: string;
  /** The account this client was started for (`--email`): offered on the login screen while logged out. */
  loginEmail?: string;
  push(event: UiPush): void;
}

const RESUME_RETRY_MS = 3000;
/** How often the profile and the server are asked whether the login still holds, besides the file watch. */
const RECHECK_MS = 30_000;
const PROFILE_SETTLE_MS = 50;
/**
 * `chorus logout` ends the session on the server and then clears the profile: the server may
 * tell this agent first. How long the file is given to say it was that logout (see sessionEnded).
 */
const LOGOUT_SETTLE_MS = 500;

const LOGGED_OUT_ELSEWHERE = 'You were logged out of this profile (by "chorus logout", or a login as someone else). Please log in again.';
const SESSION_ENDED = 'Your session has ended (it expired or was logged out elsewhere). Please log in again.';
const LOGGED_OUT_HERE_ONLY = 'Logged out on this computer only: the server could not end the session, so it stays valid there until it expires.';

/**
 * The user's login inside the agent, kept in the profile folder exactly as the CLI keeps it
 * (so `chorus login` and the web client share it). While logged in it runs the user's
 * Messaging. The server's signing key is pinned at the first login and checked at every later
 * one: a different key is refused, since it would let someone else's server forge messages.
 *
 * One profile, one truth: the profile file is watched (and re-read whenever a tab connects), so
 * a `chorus logout` or `chorus login` on the same profile is the web client's too; and the login
 * ends when the server's HTTP API says it no longer knows the session, wherever it was ended.
 * Only that explicit answer forgets the token: any other failure is retried.
 */
export class Session {
  private user: UiUser | null = null;
  private api: ApiClient;
  private messaging: Messaging | undefined;
  /** Tokens the server said are over: never adopted again from the profile file. */
  private readonly endedTokens = new Set<string>();
  /** Each admitted tab's own state (see tabPresence); nothing is said before the first tab reports. */
  private readonly tabs = new Map<object, 'active' | 'away'>();
  private tabsReported = false;
  private notice: string | undefined;
  private starting: { state: ConnectionState; detail?: string } = { state: 'connecting' };
  private retryTimer?: NodeJS.Timeout;
  /** Bumped by every login and logout, so that a stale continuation knows to stop. */
  private generation = 0;
  private watcher?: FSWatcher;
  private settleTimer?: NodeJS.Timeout;
  private recheckTimer?: NodeJS.Timeout;
  private confirming = false;
  /** The token a logout here is asking the server to end: its end, seen meanwhile, is that logout's to handle. */
  private ending: string | undefined;
  /** After a login: the session it replaced, which its server could not end (said until the next login or logout). */
  private replacedSession: UiReplacedSession | undefined;

  private constructor(
    private readonly options: SessionOptions,
    private profile: Profile | undefined,
    private readonly readPositions: ReadPositions,
  ) {
    const baseUrl = options.server.replace(/\/+$/, '');
    const pinned = profile?.server === baseUrl ? profile.tlsFingerprint : undefined;
    // The profile's other servers too, when it is this server's (and no other certificate was given).
    const several = profile?.server === baseUrl && profile.alternates?.length && options.tlsFingerprint === undefined;
    this.api = several ? new ApiClient({ servers: serverListOf(profile) }) : new ApiClient({ baseUrl, tlsFingerprint: options.tlsFingerprint ?? pinned });
  }

  /** Loads the profile; a saved session for this server is resumed in the background. */
  static async open(options: SessionOptions): Promise<Session> {
    const [profile, readPositions] = await Promise.all([loadProfile(options.profileDir), ReadPositions.load(options.profileDir)]);
    const session = new Session(options, profile, readPositions);
    if (profile?.token && profile.user && profile.server === session.api.homeUrl) {
      session.api = session.api.withToken(profile.token);
      session.user = { ...profile.user };
      void session.resume(session.generation);
    }
    session.watchProfile();
    return session;
  }

  get server(): string {
    return this.api.baseUrl;
  }

  /** What a newly connected UI needs to draw itself. */
  snapshot(): UiPush[] {
    return [this.sessionPush(), { type: 'chats', chats: this.messaging?.summaries() ?? [] }, { type: 'connection', ...this.connectionState() }];
  }

  /**
   * A tab says whether it is in use (focused, visible, used in the last few minutes) or not.
   * The user is online while any tab is, away when every tab is (or the last one closed); the
   * server says offline when the connection is gone.
   */
  tabPresence(tab: object, state: 'active' | 'away'): void {
    const before = this.tabs.get(tab);
    this.tabs.set(tab, state);
    this.sayPresence();
    // Back at the tab (focus regained, or used after a while): the person may have just joined
    // or left a chat elsewhere, in a terminal say. A tab's first report comes with its
    // connection, which refreshes already.
    if (before === 'away' && state === 'active') this.refreshChats();
  }

  /**
   * Re-reads the chat list from the server. The server tells no one of a chat joined, created or
   * left elsewhere (the CLI on this profile, another device): the agent asks when a tab
   * connects, when one is used again, and every RECHECK_MS while one is open. One small GET each
   * time, and nothing at all while no tab is open to show the list.
   */
  refreshChats(): void {
    this.messaging?.refreshChats().catch((error: unknown) => this.requestFailed(error));
  }

  tabClosed(tab: object): void {
    if (this.tabs.delete(tab)) this.sayPresence();
  }

  /** The running messaging, or a refusal when logged out. */
  chats(): Messaging {
    if (!this.user) throw chorusError('NOT_LOGGED_IN');
    if (!this.messaging) throw new ChorusError('UNREACHABLE', this.starting.detail ?? 'Still connecting to the server; try again in a moment.');
    return this.messaging;
  }

  async register(account: { name: string; email: string; password: string }): Promise<UiUser> {
    this.refuseIfLoggedIn();
    const anonymous = this.api.withToken(undefined);
    await this.checkServerKey(anonymous);
    await anonymous.register(account);
    return this.login({ email: account.email, password: account.password });
  }

  async login(credentials: { email: string; password: string }): Promise<UiUser> {
    this.refuseIfLoggedIn();
    const anonymous = this.api.withToken(undefined);
    const serverKey = await this.checkServerKey(anonymous);
    const session = await anonymous.login(credentials);
    const user = userOf(session.user);
    // A session the profile still holds (another server's, say: this agent did not take it up) is replaced: ended below.
    const replaced = this.profile?.token && this.profile.token !== session.token ? { ...this.profile, token: this.profile.token } : undefined;
    this.profile = { ...this.pinsAfterLogin(anonymous, serverKey), token: session.token, expiresAt: session.expiresAt, user };
    await saveProfile(this.options.profileDir, this.profile);
    this.api = anonymous.withToken(session.token);
    this.user = user;
    this.notice = undefined;
    this.replacedSession = undefined;
    const generation = ++this.generation;
    this.options.push(this.sessionPush());
    // In the background: the new login never waits for, nor fails with, the old session's server.
    if (replaced) void this.endReplacedSession(replaced);
    await this.resume(generation);
    return user;
  }

  /**
   * Ends the session on the server, then forgets it here. When the server cannot end it (it does
   * not answer, or refuses), the login is kept and the result says why: the token is the one
   * thing that can still end the session, so forgotten it would stay valid on the server until
   * it expires, for whoever has a copy of the profile. `forget` forgets it all the same, as
   * `chorus logout --forget` does (leaving a shared computer, a server gone for good).
   */
  async logout({ forget = false }: { forget?: boolean } = {}): Promise<UiResults['logout']> {
    const token = this.user ? this.api.token : undefined;
    if (!token) return { loggedOut: true };
    this.ending = token;
    let end: Awaited<ReturnType<typeof endSession>>;
    try {
      end = await endSession(this.api);
    } finally {
      this.ending = undefined;
    }
    // Meanwhile another command's login on this profile replaced the session: that one stays.
    if (this.api.token !== token) return { loggedOut: true };
    const stillValid = end.ended ? undefined : notEnded(end.reason, this.profile?.token === token ? this.profile.expiresAt : undefined);
    if (stillValid && !forget) return { loggedOut: false, notEnded: stillValid };
    // The profile forgets the token before any tab shows the login screen: a command run the
    // moment the tab says "logged out" must find the profile logged out too.
    this.generation++;
    await this.forgetToken(token);
    this.end(stillValid ? LOGGED_OUT_HERE_ONLY : undefined);
    return { loggedOut: true, ...(stillValid ? { notEnded: stillValid } : {}) };
  }

  /**
   * Follows the profile file: its session (or none) becomes this one. Called when the file
   * changes and when a tab connects, so that a reload never shows a login the profile lost.
   */
  async reconcileWithProfile(): Promise<void> {
    const generation = this.generation;
    let profile: Profile | undefined;
    try {
      profile = await loadProfile(this.options.profileDir);
    } catch {
      return; // half-edited by hand, say: keep what we have until it reads again
    }
    if (generation !== this.generation) return; // a login or logout here got there first
    const saved = profile?.server === this.api.homeUrl && profile.user ? profile.token : undefined;
    const current = this.user ? this.api.token : undefined;
    this.profile = profile;
    if (saved === current) return;
    if (this.user) this.end(LOGGED_OUT_ELSEWHERE);
    // A token whose session the server said had ended stays in the file until forgetToken has
    // written it out: a tab reconnecting meanwhile must not take it back (and then be told, once
    // the file changed, that another command logged it out).
    if (saved && profile?.user && !this.endedTokens.has(saved)) this.adopt(saved, profile.user);
  }

  /** Asks the server whether it still knows the session; ends the login only if it says it does not. */
  checkWithServer(): void {
    if (this.user && this.api.token) this.confirmSession(this.generation, false);
  }

  /** A UI request failed: if the refusal may mean the session ended, make sure. */
  requestFailed(error: unknown): void {
    if (this.user && mayMeanSessionEnded(error)) this.confirmSession(this.generation, false);
  }

  private presence(): 'online' | 'away' | undefined {
    if (!this.tabsReported) return undefined;
    return [...this.tabs.values()].includes('active') ? 'online' : 'away';
  }

  private sayPresence(): void {
    this.tabsReported = true;
    const state = this.presence();
    if (state) this.messaging?.presence(state);
  }

  async close(): Promise<void> {
    this.generation++;
    this.watcher?.close();
    clearTimeout(this.settleTimer);
    clearInterval(this.recheckTimer);
    clearTimeout(this.retryTimer);
    this.messaging?.close();
    this.messaging = undefined;
    this.api.servers?.close();
    await this.readPositions.flush();
  }

  /** Checks the saved session, pins or checks the server's key, and starts messaging; retries while the server is away. */
  private async resume(generation: number): Promise<void> {
    clearTimeout(this.retryTimer);
    try {
      const user = userOf(await this.api.me());
      const serverKey = await this.checkServerKey(this.api);
      const tcp = await senderTarget(this.api);
      if (generation !== this.generation) return;
      if (this.profile && this.profile.serverKey !== serverKey) {
        this.profile = { ...this.profile, serverKey, user };
        await saveProfile(this.options.profileDir, this.profile);
      }
      this.user = user;
      const messaging = new Messaging({
        api: this.api,
        user,
        serverKey: publicKeyFromBase64(serverKey),
        tcp,
        interfaceAddress: this.options.interfaceAddress,
        readPositions: this.readPositions,
        push: (event) => {
          if (generation === this.generation) this.options.push(event);
        },
        onSessionDoubt: (senderGaveUp) => this.confirmSession(generation, senderGaveUp),
      });
      this.messaging = messaging;
      const presence = this.presence();
      if (presence) messaging.presence(presence);
      this.options.push(this.sessionPush());
      await messaging.start();
    } catch (error) {
      if (generation !== this.generation) return;
      if (isSessionEnded(error)) return this.sessionEnded();
      const code = error instanceof ChorusError ? error.code : undefined;
      // Another server answers in this one's name: retrying would not mend it, nor should it.
      if (code === 'SERVER_KEY_CHANGED' || code === 'CERTIFICATE_CHANGED') {
        this.end((error as ChorusError).message);
        return;
      }
      this.messaging?.close();
      this.messaging = undefined;
      const detail = code === 'UNREACHABLE' ? `Cannot reach the server at ${this.api.baseUrl}; retrying.` : `${(error as Error).message}; retrying.`;
      this.starting = { state: 'disconnected', detail };
      this.options.push({ type: 'connection', ...this.starting });
      this.retryTimer = setTimeout(() => void this.resume(generation), RESUME_RETRY_MS);
      this.retryTimer.unref();
    }
  }

  /**
   * Something refused the session. The HTTP API decides: an explicit "unknown session" ends the
   * login; anything else (it answers fine, times out, fails) keeps it, and a sender that gave up
   * is replaced after a pause (a slow session lookup on the server, say).
   */
  private confirmSession(generation: number, senderGaveUp: boolean): void {
    if (generation !== this.generation || this.confirming) return;
    this.confirming = true;
    void this.api.me().then(
      () => {
        if (senderGaveUp && generation === this.generation) this.restartMessaging();
      },
      (error: unknown) => {
        if (generation !== this.generation) return;
        if (isSessionEnded(error)) return void this.sessionEnded();
        if (senderGaveUp) this.restartMessaging();
      },
    ).finally(() => (this.confirming = false));
  }

  private restartMessaging(): void {
    const generation = ++this.generation;
    this.messaging?.close();
    this.messaging = undefined;
    this.starting = { state: 'connecting', detail: 'Reconnecting to the server…' };
    this.options.push({ type: 'connection', ...this.starting });
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.resume(generation), RESUME_RETRY_MS);
    this.retryTimer.unref();
  }

  /** The server no longer knows the session: back to the login screen, saying why. */
  private async sessionEnded(): Promise<void> {
    const token = this.api.token;
    if (token && token === this.ending) return; // a logout here ended it, and finishes the job
    if (token) this.endedTokens.add(token);
    const generation = ++this.generation;
    // A `chorus logout` on this profile ends the session on the server and then clears the
    // file, and the server may say so first: the profile, given a moment, tells which it was.
    let saved = await loadProfile(this.options.profileDir).catch(() => undefined);
    if (token && saved?.token === token) {
      await new Promise((resolve) => setTimeout(resolve, LOGOUT_SETTLE_MS));
      saved = await loadProfile(this.options.profileDir).catch(() => undefined);
    }
    if (generation !== this.generation) return;
    this.end(token && saved?.token !== token ? LOGGED_OUT_ELSEWHERE : SESSION_ENDED);
    if (token) await this.forgetToken(token);
    // The login another command saved in its place (`chorus login` as someone else, which ends
    // the session it replaces) is taken up: the file watch's reconcile may have been cut short.
    await this.reconcileWithProfile();
  }

  /** Takes the login another command saved in the profile. */
  private adopt(token: string, user: UiUser): void {
    this.api = this.api.withToken(token);
    this.user = { id: user.id, name: user.name, email: user.email };
    this.notice = undefined;
    const generation = ++this.generation;
    this.options.push(this.sessionPush());
    void this.resume(generation);
  }

  private watchProfile(): void {
    const settle = () => {
      clearTimeout(this.settleTimer);
      this.settleTimer = setTimeout(() => void this.reconcileWithProfile(), PROFILE_SETTLE_MS);
    };
    try {
      mkdirSync(this.options.profileDir, { recursive: true, mode: 0o700 });
      // The folder, not the file: the profile is replaced by a rename at every save.
      this.watcher = watch(this.options.profileDir, (_event, name) => {
        if (name === null || name === PROFILE_FILE) settle();
      });
      this.watcher.on('error', () => this.watcher?.close());
    } catch {
      // No file watching here: the periodic check below still catches up.
    }
    this.recheckTimer = setInterval(() => {
      void this.reconcileWithProfile();
      this.checkWithServer();
      if (this.tabs.size > 0) this.refreshChats();
    }, RECHECK_MS);
    this.recheckTimer.unref();
  }

  private end(notice: string | undefined): void {
    this.generation++;
    this.replacedSession = undefined;
    clearTimeout(this.retryTimer);
    this.messaging?.close();
    this.messaging = undefined;
    this.user = null;
    this.api = this.api.withToken(undefined);
    this.notice = notice;
    this.starting = { state: 'connecting' };
    this.options.push(this.sessionPush());
    this.options.push({ type: 'chats', chats: [] });
  }

  /**
   * Drops `token` from the profile file, if the file still holds it: a login saved there
   * meanwhile (`chorus login`, as someone else) is not this session's to undo.
   */
  private async forgetToken(token: string): Promise<void> {
    const saved = await loadProfile(this.options.profileDir).catch(() => this.profile);
    this.profile = saved;
    if (saved?.token !== token) return;
    this.profile = withoutSession(saved);
    await saveProfile(this.options.profileDir, this.profile).catch(() => {});
  }

  /**
   * Ends the session a login here replaced in the profile, on that session's servers; when they
   * cannot, the tabs are told (until the next login or logout), since it stays valid there.
   */
  private async endReplacedSession(replaced: Profile & { token: string }): Promise<void> {
    const login = this.api.token;
    const end = await endProfileSession(replaced);
    if (end.ended || !this.user || this.api.token !== login) return; // or that login is over already
    const { server, user, expiresAt } = replaced;
    this.replacedSession = { server, ...(user ? { user: userOf(user) } : {}), ...notEnded(end.reason, expiresAt) };
    this.options.push(this.sessionPush());
  }

  /**
   * The profile's servers and pins after a login through `api`: the key of the server that
   * answered is pinned for it; the profile's other servers keep theirs (taken by `chorus login`).
   */
  private pinsAfterLogin(api: ApiClient, serverKey: string): Profile {
    const home = api.homeUrl;
    const kept = this.profile?.server === home ? this.profile : undefined;
    const alternates = api.servers && kept?.alternates ? { alternates: kept.alternates } : {};
    if (api.baseUrl !== home) return { server: home, ...pinsOf(kept, home), ...alternates };
    const tlsFingerprint = api.tlsFingerprint;
    return { server: home, serverKey, ...(tlsFingerprint ? { tlsFingerprint } : {}), ...alternates };
  }

  /** The server's signing key, checked against the one pinned for this server (if any). */
  private async checkServerKey(api: ApiClient): Promise<string> {
    const pinned = this.profile?.server === api.homeUrl ? pinsOf(this.profile, api.baseUrl).serverKey : undefined;
    return (await checkServerKey(api, pinned, this.options.profileDir)).publicKey;
  }

  private refuseIfLoggedIn(): void {
    if (this.user) throw chorusError('ALREADY_LOGGED_IN', this.user.name);
  }

  private connectionState(): { state: ConnectionState; detail?: string } {
    return this.messaging?.connectionState ?? this.starting;
  }

  private sessionPush(): UiPush {
    // The server's key is pinned at the first login and kept through logouts.
    const firstTime = !(this.profile?.server === this.api.homeUrl && this.profile.serverKey);
    return {
      type: 'session',
      user: this.user,
      server: this.api.baseUrl,
      ...(this.notice ? { notice: this.notice } : {}),
      ...(firstTime ? { firstTime } : {}),
      ...(!this.user && this.options.loginEmail ? { loginEmail: this.options.loginEmail } : {}),
      ...(this.options.relaunch ? { relaunch: this.options.relaunch } : {}),
      ...(this.user && this.replacedSession ? { replacedSession: this.replacedSession } : {}),
    };
  }
}

/** Why a session could not be ended, for a tab; and until when it stays valid, when known. */
function notEnded(reason: string, expiresAt: string | undefined): UiSessionNotEnded {
  return { reason: asSentence(reason), ...(expiresAt ? { expiresAt } : {}) };
}

function userOf(user: Pick<User, 'id' | 'name' | 'email'>): UiUser {
  return { id: user.id, name: user.name, email: user.email };
}

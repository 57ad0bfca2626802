import { ChorusError, ERRORS, type WireErrorCode, errorMessage, isWireCode } from '../protocol/errors.js';
import type { ChatMessage } from '../protocol/message.js';
import type { Chat, ChatMulticast, Member, ReadPosition, Session, Settings, User } from '../protocol/resources.js';
import { HandshakeTimeoutError } from './certificate-pin.js';
import { pinnedFetch } from './pinned-fetch.js';
import type { ServerEndpoint, ServerList } from './server-list.js';

export type { Chat, ChatMulticast, Member, ReadPosition, Session, Settings, User };

/**
 * A typed client for the HTTP API (docs/api.md), shared by the CLI, the terminal chat and the
 * web client's agent. It speaks JSON over the global `fetch` and turns every refusal into an
 * ApiError (a ChorusError) carrying the server's error code, and every failure to talk to the
 * server at all into a ChorusError UNREACHABLE. It never prints and never exits: callers decide
 * what to show. An https:// server is reached with its certificate pinned (see
 * certificate-pin.ts): a server presenting another certificate fails with CERTIFICATE_CHANGED
 * before anything is sent.
 */

/** A message of a chat's history. */

/** One page of history, ascending by seq, and the chat's latest seq when it was read. */
export interface MessagePage {
  messages: ChatMessage[];
  latestSeq: number;
}

/** With `after`: the first `limit` messages after it; with `before`: the last `limit` before it; else the latest. */
export type PageRequest = { after?: number; before?: undefined; limit?: number } | { after?: undefined; before: number; limit?: number };

export interface ServerInfo {
  protocolVersion: number;
  tcpPort: number;
  /** Both ports speak TLS (older servers leave it out). */
  tls?: boolean;
  tlsFingerprint?: string;
}

export interface ServerKey {
  algorithm: 'Ed25519';
  publicKey: string;
  fingerprint: string;
}

/**
 * The server refused a request over HTTP; `message` is the server's explanation, safe to show.
 * A ChorusError like any other refusal; a subclass only for what an HTTP answer adds: the status
 * the server actually answered (a 502 from a proxy is not the catalogue's 500 of INTERNAL), and
 * whether the code came in the server's own problem document (`explicit`) or was guessed from
 * that status, which is what isSessionEnded needs to tell "your session is over" from a bare 401.
 */
export class ApiError extends ChorusError {
  override readonly name = 'ApiError';
  /** The HTTP status of the answer. */
  override readonly status: number;

  constructor(
    status: number,
    code: WireErrorCode,
    message: string,
    field?: string,
    retryAfterSeconds?: number,
    /** The code came in the server's own problem document, not guessed from the HTTP status. */
    readonly explicit = false,
  ) {
    super(code, message, field, retryAfterSeconds);
    this.status = status;
  }
}

/**
 * Did the server say, in so many words, that this session is over (unknown, expired, logged
 * out)? Only then may a client forget its token or say "log in again": a failed lookup
 * (UNAVAILABLE), a bare 401 from something in between, or no answer at all, is not that.
 */
export function isSessionEnded(error: unknown): boolean {
  if (!(error instanceof ChorusError) || (error.code !== 'UNAUTHENTICATED' && error.code !== 'SESSION_ENDED')) return false;
  return !(error instanceof ApiError) || error.explicit;
}

/** The server could not be reached (`silent`: or did not answer in time): a ChorusError with code UNREACHABLE. */
export function unreachable(baseUrl: string, reason?: string, options?: { cause?: unknown; silent?: boolean }): ChorusError {
  const message = options?.silent ? `the server at ${baseUrl} did not answer${reason ? ` (${reason})` : ''}` : errorMessage('UNREACHABLE', baseUrl, reason);
  return new ChorusError('UNREACHABLE', message, undefined, undefined, { cause: options?.cause });
}

interface ApiClientCommonOptions {
  token?: string;
  /** Give up on a request after this long; 0 waits for ever. Default 30 s. */
  timeoutMs?: number;
  /** For an https:// server with a pinned certificate: the connection and TLS handshake must be done within this. Default 10 s. */
  handshakeTimeoutMs?: number;
  /** For tests or other runtimes; defaults to the global fetch, or a pinned one for https. */
  fetch?: typeof fetch;
}

export type ApiClientOptions = ApiClientCommonOptions &
  (
    | {
        /** e.g. http://127.0.0.1:6789 (a trailing slash is ignored) */
        baseUrl: string;
        /**
         * For an https:// server: the SHA-256 fingerprint of its certificate (colon-separated
         * uppercase hex) that every connection must present. Without it, the certificate must be
         * signed by an authority this machine trusts. Ignored for http://.
         */
        tlsFingerprint?: string;
        servers?: undefined;
      }
    | {
        /**
         * Several servers, each with its own pin: requests go to the list's current one, and a
         * request that gets no answer from it (refused, unreachable; in time, for a request safe
         * to repeat) is tried on the next. An HTTP answer, even a refusal, is the answer.
         */
        servers: ServerList;
        baseUrl?: undefined;
        tlsFingerprint?: undefined;
      }
  );

/** One server as requests reach it: its URL, pin and fetch. */
interface Target {
  baseUrl: string;
  tlsFingerprint: string | undefined;
  fetch: typeof fetch;
}

/** Methods a request may be repeated with on another server though the first may have carried it out (RFC 9110, 9.2.2). */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE']);

const DEFAULT_TIMEOUT_MS = 30_000;

export class ApiClient {
  readonly token: string | undefined;
  /** The servers, when there are several (shared with the Sender and the Receiver of the same client). */
  readonly servers: ServerList | undefined;
  private readonly timeoutMs: number;
  private readonly options: ApiClientOptions;
  private readonly single: Target | undefined;
  /** Per server of the list, made at its first use; shared by withToken's copies. */
  private readonly targets: Map<ServerEndpoint, Target>;

  /** `shared`: a copy's (withToken) connections, with their pins, are the original's. */
  constructor(options: ApiClientOptions, shared?: { single: Target | undefined; targets: Map<ServerEndpoint, Target> }) {
    this.options = options;
    this.token = options.token;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.servers = options.servers;
    this.targets = shared?.targets ?? new Map();
    this.single = options.servers ? undefined : (shared?.single ?? this.targetFor(options.baseUrl, options.tlsFingerprint));
  }

  /** The server requests go to now, e.g. http://127.0.0.1:6789. */
  get baseUrl(): string {
    return this.target().baseUrl;
  }

  /** The home server's URL (the first of several): the one a profile is kept under. */
  get homeUrl(): string {
    return this.servers ? this.servers.home.url.replace(/\/+$/, '') : this.single!.baseUrl;
  }

  /** The pinned certificate fingerprint of that server, for an https:// one. */
  get tlsFingerprint(): string | undefined {
    return this.target().tlsFingerprint;
  }

  /** The same server or servers (and pinned certificates), with another session. */
  withToken(token: string | undefined): ApiClient {
    return new ApiClient({ ...this.options, token }, { single: this.single, targets: this.targets });
  }

  private target(): Target {
    if (this.single) return this.single;
    const endpoint = this.servers!.current;
    let target = this.targets.get(endpoint);
    if (!target) this.targets.set(endpoint, (target = this.targetFor(endpoint.url, endpoint.tlsFingerprint)));
    return target;
  }

  private targetFor(url: string, fingerprint: string | undefined): Target {
    const baseUrl = url.replace(/\/+$/, '');
    const https = baseUrl.toLowerCase().startsWith('https:');
    const tlsFingerprint = https ? fingerprint : undefined;
    const handshakeTimeoutMs = this.options.handshakeTimeoutMs;
    const fetchImpl = this.options.fetch ?? (tlsFingerprint ? pinnedFetch(tlsFingerprint, { handshakeTimeoutMs }) : globalThis.fetch);
    return { baseUrl, tlsFingerprint, fetch: fetchImpl };
  }

  register(account: { name: string; email: string; password: string }): Promise<User> {
    return this.request('POST', '/api/users', account);
  }

  login(credentials: { email: string; password: string }): Promise<Session> {
    return this.request('POST', '/api/sessions', credentials);
  }

  /** Revokes this client's token on the server. */
  logout(): Promise<void> {
    return this.request('DELETE', '/api/sessions/current');
  }

  me(): Promise<User> {
    return this.request('GET', '/api/me');
  }

  createChat(name: string): Promise<Chat> {
    return this.request('POST', '/api/chats', { name });
  }

  async listChats(): Promise<Chat[]> {
    return (await this.request<{ chats: Chat[] }>('GET', '/api/chats')).chats;
  }

  getChat(code: string): Promise<Chat> {
    return this.request('GET', chatPath(code));
  }

  joinChat(code: string): Promise<Chat> {
    return this.request('POST', `${chatPath(code)}/members`);
  }

  leaveChat(code: string): Promise<void> {
    return this.request('DELETE', `${chatPath(code)}/members/me`);
  }

  /** The chat's creator removes a member (who may not join again until the ban is lifted). */
  removeMember(code: string, userId: number): Promise<void> {
    return this.request('DELETE', `${chatPath(code)}/members/${userId}`);
  }

  /** Every member, with presence, last seen, the creator marked, and read positions where shared. */
  async listMembers(code: string): Promise<Member[]> {
    return (await this.request<{ members: Member[] }>('GET', `${chatPath(code)}/members`)).members;
  }

  /** Moves the caller's read position in the chat (forward only); resolves with where it is now. */
  async setReadPosition(code: string, seq: number): Promise<number> {
    return (await this.request<ReadPosition>('PUT', `${chatPath(code)}/read`, { seq })).seq;
  }

  settings(): Promise<Settings> {
    return this.request('GET', '/api/me/settings');
  }

  updateSettings(settings: Settings): Promise<Settings> {
    return this.request('PUT', '/api/me/settings', settings);
  }

  listMessages(code: string, page: PageRequest = {}): Promise<MessagePage> {
    const query = new URLSearchParams();
    if (page.after !== undefined) query.set('after', String(page.after));
    if (page.before !== undefined) query.set('before', String(page.before));
    if (page.limit !== undefined) query.set('limit', String(page.limit));
    const suffix = query.size > 0 ? `?${query}` : '';
    return this.request('GET', `${chatPath(code)}/messages${suffix}`);
  }

  /** Where to send messages over TCP. */
  serverInfo(): Promise<ServerInfo> {
    return this.request('GET', '/api/server');
  }

  /** The public key that signs the server's multicast datagrams (clients pin it). */
  serverKey(): Promise<ServerKey> {
    return this.request('GET', '/api/server-key');
  }

  health(): Promise<{ status: 'ok' }> {
    return this.request('GET', '/api/health');
  }

  /**
   * With several servers: on the current one, and on the next while none answers (at most once
   * each). A request that may have been carried out (no answer in time) is repeated elsewhere
   * only when repeating it is harmless.
   */
  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const servers = this.servers;
    if (!servers) return this.requestOn(this.single!, method, path, body);
    for (let attempt = 1; ; attempt++) {
      const endpoint = servers.current;
      try {
        const answer = await this.requestOn<T>(this.target(), method, path, body);
        servers.reached(endpoint);
        return answer;
      } catch (error) {
        if (!(error instanceof ChorusError) || error.code !== 'UNREACHABLE' || error instanceof ApiError) {
          servers.reached(endpoint);
          throw error;
        }
        servers.failed(endpoint);
        if (attempt >= servers.endpoints.length || (isSilence(error.cause) && !IDEMPOTENT.has(method))) throw error;
      }
    }
  }

  private async requestOn<T>(target: Target, method: string, path: string, body?: unknown): Promise<T> {
    const { baseUrl } = target;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const init: RequestInit = { method, headers, body: body === undefined ? undefined : JSON.stringify(body) };
    const deadline = this.deadline();
    if (deadline.signal) init.signal = deadline.signal;

    let response: Response;
    let text: string;
    try {
      // Raced against the deadline too: a fetch that does not heed its signal still ends.
      response = await deadline.race(target.fetch(baseUrl + path, init));
      text = await deadline.race(response.text());
    } catch (error) {
      if (error instanceof ChorusError && error.code === 'CERTIFICATE_CHANGED') throw error;
      throw unreachable(baseUrl, this.reasonOf(error, baseUrl), { cause: error, silent: isSilence(error) });
    } finally {
      deadline.clear();
    }
    if (!response.ok) throw problemToError(response, text, baseUrl);
    if (response.status === 204 || text === '') return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ApiError(response.status, 'INTERNAL', `the server at ${baseUrl} answered ${method} ${path} with something other than JSON: is it a Chorus server?`);
    }
  }

  /** The request's deadline: a signal for the fetch, and a race for what does not heed it. */
  private deadline(): { signal?: AbortSignal; race<T>(work: Promise<T>): Promise<T>; clear(): void } {
    if (this.timeoutMs <= 0) return { race: (work) => work, clear() {} };
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const error = new DOMException(`no answer within ${this.timeoutMs} ms`, 'TimeoutError');
        controller.abort(error);
        reject(error);
      }, this.timeoutMs);
    });
    expired.catch(() => {});
    return { signal: controller.signal, race: (work) => Promise.race([work, expired]), clear: () => clearTimeout(timer) };
  }

  private reasonOf(error: unknown, baseUrl: string): string | undefined {
    if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
      return `no answer within ${this.timeoutMs >= 1000 ? `${Math.round(this.timeoutMs / 1000)} s` : `${this.timeoutMs} ms`}`;
    }
    const handshake = error instanceof HandshakeTimeoutError ? error : error instanceof Error && error.cause instanceof HandshakeTimeoutError ? error.cause : undefined;
    if (handshake) return handshake.message;
    const cause = error instanceof Error ? (error.cause as { code?: string; message?: string } | undefined) : undefined;
    switch (cause?.code) {
      case 'ECONNREFUSED':
        return 'connection refused';
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
        return 'unknown host';
      case 'ECONNRESET':
      case 'UND_ERR_SOCKET':
        // A server speaking TLS resets a plain request.
        return baseUrl.startsWith('http:') ? 'connection reset; if the server speaks TLS, its address starts with https://' : 'connection reset';
      case 'ETIMEDOUT':
      case 'UND_ERR_CONNECT_TIMEOUT':
        return 'connection timed out';
      case 'EHOSTUNREACH':
      case 'ENETUNREACH':
        return 'no route to host';
      case 'DEPTH_ZERO_SELF_SIGNED_CERT':
      case 'SELF_SIGNED_CERT_IN_CHAIN':
      case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
        return 'its certificate is not signed by an authority this machine trusts, and none is pinned: log in to pin it';
      case 'EPROTO':
      case 'ERR_SSL_WRONG_VERSION_NUMBER':
        return 'TLS failed: is the server address http:// where it should be https://, or the other way round?';
    }
    // fetch refuses some ports outright (the Fetch standard's "bad ports", e.g. 1, 6000, 6667).
    if (cause?.message === 'bad port') return 'fetch refuses to connect to this port: run the server on another one';
    return cause?.message ?? (error instanceof Error ? error.message : undefined);
  }
}

/** The server accepted the connection (or may have) but did not answer in time. */
function isSilence(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return error.name === 'TimeoutError' || error.name === 'AbortError' || error instanceof HandshakeTimeoutError || error.cause instanceof HandshakeTimeoutError;
}

function chatPath(code: string): string {
  return `/api/chats/${encodeURIComponent(code)}`;
}

/** A problem+json answer becomes an ApiError with its code; anything else, one by its status. */
function problemToError(response: Response, text: string, baseUrl: string): ApiError {
  const retryAfter = retryAfterSeconds(response.headers.get('retry-after'));
  let problem: { code?: unknown; detail?: unknown; title?: unknown; field?: unknown } | undefined;
  try {
    problem = JSON.parse(text);
  } catch {
    problem = undefined;
  }
  if (problem && isWireCode(problem.code)) {
    const message = typeof problem.detail === 'string' ? problem.detail : typeof problem.title === 'string' ? problem.title : ERRORS[problem.code].title;
    const field = typeof problem.field === 'string' ? problem.field : undefined;
    return new ApiError(response.status, problem.code, message, field, retryAfter, true);
  }
  const code = codeForStatus(response.status);
  return new ApiError(response.status, code, `the server at ${baseUrl} answered HTTP ${response.status} (${ERRORS[code].title.toLowerCase()})`, undefined, retryAfter);
}

function codeForStatus(status: number): WireErrorCode {
  switch (status) {
    case 401:
      return 'UNAUTHENTICATED';
    case 404:
      return 'NOT_FOUND';
    case 413:
      return 'PAYLOAD_TOO_LARGE';
    case 415:
      return 'UNSUPPORTED_MEDIA_TYPE';
    case 429:
      return 'TOO_MANY_REQUESTS';
    case 503:
      return 'UNAVAILABLE';
  }
  return status < 500 ? 'BAD_REQUEST' : 'INTERNAL';
}

function retryAfterSeconds(header: string | null): number | undefined {
  if (header === null || !/^\d+$/.test(header.trim())) return undefined;
  return Number(header.trim());
}

import { ChorusError } from '../protocol/errors.js';
import type { Session } from './session.js';
import type { UiRequest, UiResults } from './ui-protocol.js';

/**
 * The UI's requests: checked field by field (the socket is only reachable by the user's own
 * browser, but a request is still input), then carried out against the session.
 */

const STRING_LIMIT = 100_000;

type Fields = Record<string, unknown>;

/**
 * A request the agent cannot read: a ChorusError BAD_UI_REQUEST, plus `requestId` when it got
 * that far, so the UI can be answered.
 */
export class BadUiRequest extends ChorusError {
  constructor(
    message: string,
    readonly requestId?: number,
  ) {
    super('BAD_UI_REQUEST', message);
  }
}

/** The request in a WebSocket message, or a BadUiRequest saying what is wrong with it. */
export function parseUiRequest(text: string): UiRequest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new BadUiRequest('not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new BadUiRequest('not an object');
  const o = value as Fields;
  const id = o.id;
  if (typeof id !== 'number' || !Number.isSafeInteger(id)) throw new BadUiRequest('id must be an integer');
  try {
    return requestOf(id, o);
  } catch (error) {
    throw new BadUiRequest((error as Error).message, id);
  }
}

function requestOf(id: number, o: Fields): UiRequest {
  switch (o.type) {
    case 'register':
      return { id, type: 'register', name: str(o, 'name'), email: str(o, 'email'), password: str(o, 'password') };
    case 'login':
      return { id, type: 'login', email: str(o, 'email'), password: str(o, 'password') };
    case 'logout':
    case 'chats':
      return { id, type: o.type };
    case 'create':
      return { id, type: 'create', name: str(o, 'name') };
    case 'join':
    case 'leave':
      return { id, type: o.type, code: str(o, 'code') };
    case 'open':
      return { id, type: 'open', code: str(o, 'code'), ...optionalCount(o, 'limit') };
    case 'older':
      return { id, type: 'older', code: str(o, 'code'), before: count(o, 'before'), ...optionalCount(o, 'limit') };
    case 'send':
      return { id, type: 'send', code: str(o, 'code'), text: str(o, 'text'), clientMsgId: str(o, 'clientMsgId') };
    case 'read':
      return { id, type: 'read', code: str(o, 'code'), seq: count(o, 'seq') };
    default:
      throw new BadUiRequest('unknown request type');
  }
}

/** Carries out a request; resolves with its result, or rejects with what to tell the UI. */
export async function performUiRequest(session: Session, request: UiRequest): Promise<UiResults[UiRequest['type']]> {
  switch (request.type) {
    case 'register':
      return { user: await session.register({ name: request.name, email: request.email, password: request.password }) };
    case 'login':
      return { user: await session.login({ email: request.email, password: request.password }) };
    case 'logout':
      await session.logout();
      return {};
    case 'chats':
      return { chats: await session.chats().refreshChats() };
    case 'create':
      return { chat: await session.chats().create(request.name) };
    case 'join':
      return { chat: await session.chats().join(request.code) };
    case 'leave':
      await session.chats().leave(request.code);
      return {};
    case 'open':
      return session.chats().open(request.code, request.limit);
    case 'older':
      return session.chats().older(request.code, request.before, request.limit);
    case 'send':
      session.chats().send(request.code, request.text, request.clientMsgId);
      return {};
    case 'read':
      session.chats().read(request.code, request.seq);
      return {};
  }
}

function str(o: Fields, key: string): string {
  const v = o[key];
  if (typeof v !== 'string' || v.length > STRING_LIMIT) throw new BadUiRequest(`${key} must be a string`);
  return v;
}

function count(o: Fields, key: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new BadUiRequest(`${key} must be a whole number`);
  return v;
}

function optionalCount(o: Fields, key: 'limit'): { limit?: number } {
  return o[key] === undefined ? {} : { [key]: count(o, key) };
}

import { Compile, type Validator } from 'typebox/compile';
import { ChorusError } from '../protocol/errors.js';
import type { Session } from './session.js';
import type { UiRequest, UiResults } from './ui-protocol.js';
import { UI_REQUEST_ENVELOPE, UI_REQUEST_SCHEMAS } from './ui-schemas.js';

/**
 * The UI's requests: checked against their schemas (ui-schemas.ts; the socket is only
 * reachable by the user's own browser, but a request is still input), then carried out
 * against the session.
 */

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

const envelope = Compile(UI_REQUEST_ENVELOPE);
const validators = new Map<string, Validator>(Object.entries(UI_REQUEST_SCHEMAS).map(([type, schema]) => [type, Compile(schema)]));

/** The request in a WebSocket message, without fields its type does not have, or a BadUiRequest saying what is wrong with it. */
export function parseUiRequest(text: string): UiRequest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new BadUiRequest('not JSON');
  }
  if (!envelope.Check(value)) throw new BadUiRequest(firstError(envelope, value));
  const { id, type } = value;
  const validator = validators.get(type);
  if (!validator) throw new BadUiRequest('unknown request type', id);
  if (!validator.Check(value)) throw new BadUiRequest(firstError(validator, value), id);
  return validator.Clean(value) as UiRequest;
}

/** What is wrong with `value`, as "field must be …". */
function firstError(validator: Validator, value: unknown): string {
  const error = validator.Errors(value)[0];
  if (!error) return 'not a request';
  return `${error.instancePath.slice(1).replaceAll('/', '.')} ${error.message}`.trim();
}

/** Carries out a request from `tab` (its socket: presence is per tab); resolves with its result, or rejects with what to tell the UI. */
export async function performUiRequest(session: Session, request: UiRequest, tab: object = session): Promise<UiResults[UiRequest['type']]> {
  switch (request.type) {
    case 'register':
      return { user: await session.register({ name: request.name, email: request.email, password: request.password }) };
    case 'login':
      return { user: await session.login({ email: request.email, password: request.password }) };
    case 'logout':
      return session.logout({ forget: request.forget === true });
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
    case 'members':
      return { members: await session.chats().members(request.code) };
    case 'removeMember':
      await session.chats().removeMember(request.code, request.userId);
      return {};
    case 'typing':
      session.chats().typing(request.code, request.on);
      return {};
    case 'presence':
      // Remembered even while logged out: it applies from the next login.
      session.tabPresence(tab, request.state);
      return {};
    case 'settings':
      return session.chats().settings();
    case 'updateSettings':
      return session.chats().updateSettings({ receipts: request.receipts });
  }
}

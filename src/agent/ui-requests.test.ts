import { describe, expect, it } from 'vitest';
import { BadUiRequest, parseUiRequest } from './ui-requests.js';

describe('parseUiRequest', () => {
  it('reads each request type with its fields', () => {
    expect(parseUiRequest('{"id":1,"type":"login","email":"a@b","password":"pw"}')).toEqual({ id: 1, type: 'login', email: 'a@b', password: 'pw' });
    expect(parseUiRequest('{"id":2,"type":"chats"}')).toEqual({ id: 2, type: 'chats' });
    expect(parseUiRequest('{"id":3,"type":"open","code":"ABCDE-12345"}')).toEqual({ id: 3, type: 'open', code: 'ABCDE-12345' });
    expect(parseUiRequest('{"id":4,"type":"older","code":"x","before":10,"limit":20}')).toEqual({ id: 4, type: 'older', code: 'x', before: 10, limit: 20 });
    expect(parseUiRequest('{"id":5,"type":"send","code":"x","text":"hi","clientMsgId":"m1"}')).toEqual({ id: 5, type: 'send', code: 'x', text: 'hi', clientMsgId: 'm1' });
  });

  it('reads the requests of presence, typing and read receipts', () => {
    expect(parseUiRequest('{"id":1,"type":"members","code":"x"}')).toEqual({ id: 1, type: 'members', code: 'x' });
    expect(parseUiRequest('{"id":2,"type":"removeMember","code":"x","userId":7}')).toEqual({ id: 2, type: 'removeMember', code: 'x', userId: 7 });
    expect(parseUiRequest('{"id":3,"type":"typing","code":"x","on":false}')).toEqual({ id: 3, type: 'typing', code: 'x', on: false });
    expect(parseUiRequest('{"id":4,"type":"presence","state":"away"}')).toEqual({ id: 4, type: 'presence', state: 'away' });
    expect(parseUiRequest('{"id":5,"type":"updateSettings","receipts":false}')).toEqual({ id: 5, type: 'updateSettings', receipts: false });
    expect(parseUiRequest('{"id":6,"type":"settings"}')).toEqual({ id: 6, type: 'settings' });
    expect(parseUiRequest('{"id":7,"type":"logout","forget":true}')).toEqual({ id: 7, type: 'logout', forget: true });
  });

  it('drops fields a request does not have', () => {
    expect(parseUiRequest('{"id":1,"type":"logout","token":"sneaky"}')).toEqual({ id: 1, type: 'logout' });
  });

  it.each([
    ['not json', undefined],
    ['[]', undefined],
    ['{"type":"chats"}', undefined],
    ['{"id":"1","type":"chats"}', undefined],
    ['{"id":7,"type":"nope"}', 7],
    ['{"id":8,"type":"login","email":"a"}', 8],
    ['{"id":9,"type":"older","code":"x","before":-1}', 9],
    ['{"id":10,"type":"older","code":"x","before":1.5}', 10],
    ['{"id":11,"type":"send","code":"x","text":5,"clientMsgId":"m"}', 11],
    ['{"id":12,"type":"logout","forget":"yes"}', 12],
    // Issue 13: a tab is active or away (online and offline are the agent's and the server's to say).
    ['{"id":12,"type":"presence","state":"online"}', 12],
    ['{"id":13,"type":"typing","code":"x","on":"yes"}', 13],
    ['{"id":14,"type":"removeMember","code":"x","userId":0}', 14],
    ['{"id":15,"type":"updateSettings"}', 15],
  ])('refuses %s, keeping the id when there is one', (text, requestId) => {
    let error: unknown;
    try {
      parseUiRequest(text);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(BadUiRequest);
    expect((error as BadUiRequest).requestId).toBe(requestId);
    expect((error as BadUiRequest).code).toBe('BAD_UI_REQUEST');
  });

  it('refuses strings longer than any form could send', () => {
    expect(() => parseUiRequest(JSON.stringify({ id: 1, type: 'create', name: 'x'.repeat(200_000) }))).toThrow(BadUiRequest);
  });

  it('says which field is wrong, as the schema found it', () => {
    const messageOf = (text: string) => {
      try {
        parseUiRequest(text);
      } catch (error) {
        return (error as BadUiRequest).message;
      }
      return 'accepted';
    };
    expect(messageOf('{"id":9,"type":"older","code":"x","before":-1}')).toMatch(/^before /);
    expect(messageOf('{"id":11,"type":"send","code":"x","text":5,"clientMsgId":"m"}')).toMatch(/^text /);
    expect(messageOf('{"id":8,"type":"login","email":"a"}')).toMatch(/password/);
    expect(messageOf('{"id":7,"type":"constructor"}')).toBe('unknown request type');
    expect(messageOf('{"id":1e300,"type":"chats"}')).toMatch(/^id /);
  });
});

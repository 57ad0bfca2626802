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

import { describe, expect, it } from 'vitest';
import { createLogger, maskChatCodes } from './logger.js';

const CODE = 'ZSS2CDM84E';

function logged(write: (logger: ReturnType<typeof createLogger>) => void): string {
  const lines: string[] = [];
  write(createLogger('info', { write: (line: string) => void lines.push(line) }));
  return lines.join('');
}

describe('maskChatCodes', () => {
  it.each([
    ['a path segment, any case, with or without the dash', '/api/chats/zss2c-dm84e/messages', '/api/chats/TAG/messages'],
    ['a path segment with look-alikes and percent-encoding', '/api/chats/ZSS2C%20DM84E', '/api/chats/TAG'],
    ['a query value', '/api/chats?code=ZSS2C-DM84E&x=1', '/api/chats?code=TAG&x=1'],
    ['the dashed form in text', 'no chat zss2c-dm84e here', 'no chat TAG here'],
    ['the canonical form in text', `chat ${CODE}.`, 'chat TAG.'],
    ['right after a JSON escape', `"line\\n${CODE}"`, '"line\\nTAG"'],
  ])('masks %s', (_what, line, expected) => {
    expect(maskChatCodes(line).replace(/chat:[0-9a-f]{8}/g, 'TAG')).toBe(expected);
  });

  it('gives one code one tag, whatever its spelling, and another code another', () => {
    const tag = maskChatCodes(CODE);
    expect(tag).toMatch(/^chat:[0-9a-f]{8}$/);
    expect(maskChatCodes('zss2c-dm84e')).toBe(tag);
    expect(maskChatCodes('/ZSS2CDM84E')).toBe(`/${tag}`);
    expect(maskChatCodes('ZSS2C-DM84F')).not.toBe(tag);
  });

  it('leaves ordinary words, ids and numbers alone', () => {
    const line = '{"msg":"connection closed","remotePort":44598,"statusCode":200,"stream":"0123456789abcdef0123","url":"/api/sessions/current","n":1234567890}';
    expect(maskChatCodes(line)).toBe(line);
  });
});

describe('createLogger', () => {
  it('masks codes in messages, fields and errors, stack included', () => {
    const log = logged((logger) => {
      logger.info({ req: { url: '/api/chats/zss2cdm84e' } }, 'incoming request');
      logger.error({ err: new Error('no chat ZSS2C-DM84E\nor zss2c-dm84e') }, `send to ${CODE} failed`);
    });
    expect(log).toContain('incoming request');
    expect(log).toContain('"type":"Error"');
    expect(log.toLowerCase()).not.toMatch(/zss2c-?dm84e/);
  });
});

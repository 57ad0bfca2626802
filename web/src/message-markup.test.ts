import { describe, expect, it } from 'vitest';
import { parseMessage, parseSpans, safeHref } from './message-markup.js';

describe('parseSpans', () => {
  it('finds http and https links, leaving sentence punctuation outside', () => {
    expect(parseSpans('see https://example.test/a?b=1, and http://x.test.')).toEqual([
      { kind: 'text', text: 'see ' },
      { kind: 'link', href: 'https://example.test/a?b=1', text: 'https://example.test/a?b=1' },
      { kind: 'text', text: ', and ' },
      { kind: 'link', href: 'http://x.test/', text: 'http://x.test' },
      { kind: 'text', text: '.' },
    ]);
  });

  it('keeps a closing bracket that belongs to the URL', () => {
    expect(parseSpans('(https://en.wikipedia.test/wiki/Chorus_(band))')).toEqual([
      { kind: 'text', text: '(' },
      { kind: 'link', href: 'https://en.wikipedia.test/wiki/Chorus_(band)', text: 'https://en.wikipedia.test/wiki/Chorus_(band)' },
      { kind: 'text', text: ')' },
    ]);
  });

  it('makes no link of any other scheme', () => {
    for (const text of ['javascript:alert(1)', 'data:text/html,<b>x</b>', 'file:///etc/passwd', 'vbscript:x', 'ftp://host/x']) {
      expect(parseSpans(text).every((span) => span.kind === 'text')).toBe(true);
    }
    expect(safeHref('javascript:alert(1)')).toBeUndefined();
    expect(safeHref('https://ok.test/')).toBe('https://ok.test/');
  });

  it('reads `inline code` as code, and no link inside it', () => {
    expect(parseSpans('run `npm ci https://x.test` now')).toEqual([
      { kind: 'text', text: 'run ' },
      { kind: 'code', text: 'npm ci https://x.test' },
      { kind: 'text', text: ' now' },
    ]);
    expect(parseSpans('a lone ` backtick')).toEqual([{ kind: 'text', text: 'a lone ` backtick' }]);
  });
});

describe('parseMessage', () => {
  it('splits fenced code blocks from the text around them, dropping the info string', () => {
    expect(parseMessage('before\n```ts\nconst a = `x`;\n  indented\n```\nafter')).toEqual([
      { kind: 'paragraph', spans: [{ kind: 'text', text: 'before' }] },
      { kind: 'code', text: 'const a = `x`;\n  indented' },
      { kind: 'paragraph', spans: [{ kind: 'text', text: 'after' }] },
    ]);
  });

  it('keeps an unclosed fence as the text that was typed', () => {
    expect(parseMessage('```\nnot closed')).toEqual([{ kind: 'paragraph', spans: [{ kind: 'text', text: '```\nnot closed' }] }]);
  });

  it('keeps line breaks inside a paragraph', () => {
    expect(parseMessage('one\ntwo')).toEqual([{ kind: 'paragraph', spans: [{ kind: 'text', text: 'one\ntwo' }] }]);
  });

  it('never turns markup into anything but text', () => {
    const html = '<img src=x onerror=alert(1)><script>alert(2)</script>';
    expect(parseMessage(html)).toEqual([{ kind: 'paragraph', spans: [{ kind: 'text', text: html }] }]);
  });
});

describe('parseMessage and direction controls', () => {
  it('shows embeddings, overrides and isolates as U+FFFD, in text, code and links alike: they cannot reorder what follows', () => {
    expect(parseMessage('invoice\u202Efdp.exe')).toEqual([{ kind: 'paragraph', spans: [{ kind: 'text', text: 'invoice\uFFFDfdp.exe' }] }]);
    expect(parseMessage('```\na\u2067b\n```')).toEqual([{ kind: 'code', text: 'a\uFFFDb' }]);
    const [link] = (parseMessage('https://x.test/\u202Dgpj.exe')[0] as { spans: { kind: string; text: string }[] }).spans;
    expect(link!.text).not.toMatch(/[\u202a-\u202e\u2066-\u2069]/);
  });

  it('keeps right-to-left text and its marks as they are', () => {
    expect(parseMessage('שלום \u200Fעולם')).toEqual([{ kind: 'paragraph', spans: [{ kind: 'text', text: 'שלום \u200Fעולם' }] }]);
  });
});

/**
 * The small, safe subset of formatting a message may carry: fenced code blocks (```), `inline
 * code`, and http(s) links. Parsed into plain data that MessageText renders as React elements:
 * never HTML, so nothing in a message can become markup, a script or a link of another scheme.
 * Line breaks stay as they are typed (the text is shown with white-space: pre-wrap).
 */
export type Block = { kind: 'paragraph'; spans: Span[] } | { kind: 'code'; text: string };

export type Span = { kind: 'text'; text: string } | { kind: 'code'; text: string } | { kind: 'link'; href: string; text: string };

/** ``` on a line of its own (an info string such as ```ts is allowed and not shown) opens and closes a block. */
const FENCE = /^```[^`\n]*$/;

/**
 * Embeddings, overrides and isolates (U+202A-202E, U+2066-2069) reorder the text after them:
 * "invoice\u202Efdp.exe" shows as "invoiceexe.pdf". A message is laid out by its own letters
 * (dir="auto"), so these are shown as U+FFFD, as the terminal client shows them.
 */
const DIRECTION_CONTROLS = /[\u202a-\u202e\u2066-\u2069]/g;

export function parseMessage(text: string): Block[] {
  text = text.replace(DIRECTION_CONTROLS, '\uFFFD');
  const blocks: Block[] = [];
  let paragraph: string[] = [];
  let code: string[] | undefined;
  const flushParagraph = () => {
    if (paragraph.length > 0) blocks.push({ kind: 'paragraph', spans: parseSpans(paragraph.join('\n')) });
    paragraph = [];
  };
  for (const line of text.split('\n')) {
    if (code) {
      if (line.trimEnd() === '```') {
        blocks.push({ kind: 'code', text: code.join('\n') });
        code = undefined;
      } else code.push(line);
    } else if (FENCE.test(line.trimEnd())) {
      flushParagraph();
      code = [];
    } else paragraph.push(line);
  }
  // An unclosed fence is not a block: what was typed stays text, fence included.
  if (code) paragraph.push('```', ...code);
  flushParagraph();
  return blocks;
}

const INLINE_CODE = /`([^`\n]+)`/g;
/** An http(s) URL up to white space; trailing punctuation that usually ends a sentence is left out. */
const URL_PATTERN = /\bhttps?:\/\/[^\s<>"`]+/gi;
const TRAILING_PUNCTUATION = /[.,;:!?'")\]}]+$/;

export function parseSpans(text: string): Span[] {
  const spans: Span[] = [];
  let at = 0;
  for (const match of text.matchAll(INLINE_CODE)) {
    spans.push(...linkSpans(text.slice(at, match.index)));
    spans.push({ kind: 'code', text: match[1]! });
    at = match.index + match[0].length;
  }
  spans.push(...linkSpans(text.slice(at)));
  return spans.filter((span) => span.text !== '');
}

function linkSpans(text: string): Span[] {
  const spans: Span[] = [];
  let at = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    const url = trimUrl(match[0]);
    const href = safeHref(url);
    if (!href) continue;
    spans.push({ kind: 'text', text: text.slice(at, match.index) });
    spans.push({ kind: 'link', href, text: url });
    at = match.index + url.length;
  }
  spans.push({ kind: 'text', text: text.slice(at) });
  return spans;
}

/** Drops sentence punctuation after a URL, but keeps a closing bracket that has its opening one inside. */
function trimUrl(url: string): string {
  let trimmed = url.replace(TRAILING_PUNCTUATION, '');
  while (trimmed.length < url.length && trimmed.endsWith('(') === false) {
    const next = url[trimmed.length]!;
    const opens = { ')': '(', ']': '[', '}': '{' }[next];
    if (!opens || count(trimmed, opens) <= count(trimmed, next)) break;
    trimmed += next;
  }
  return trimmed;
}

const count = (text: string, char: string) => text.split(char).length - 1;

/** The URL as the browser will parse it, only if it is http or https; anything else is not a link. */
export function safeHref(url: string): string | undefined {
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.href : undefined;
  } catch {
    return undefined;
  }
}

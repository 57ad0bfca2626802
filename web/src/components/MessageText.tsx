import { parseMessage, type Span } from '../message-markup.js';

/**
 * A message's text with its small formatting (message-markup.ts): links, inline code, code
 * blocks. React elements only, so text stays text. dir="auto" lays out each message in the
 * direction of its own first strong character (a Hebrew or Arabic message right to left).
 */
export function MessageText({ text }: { text: string }) {
  return (
    <div className="message-text" dir="auto">
      {parseMessage(text).map((block, i) =>
        block.kind === 'code' ? (
          <pre key={i} className="message-code-block" dir="ltr">
            <code>{block.text}</code>
          </pre>
        ) : (
          <p key={i} className="message-paragraph">
            {block.spans.map((span, j) => (
              <SpanView key={j} span={span} />
            ))}
          </p>
        ),
      )}
    </div>
  );
}

function SpanView({ span }: { span: Span }) {
  if (span.kind === 'code') return <code className="message-code">{span.text}</code>;
  if (span.kind === 'link')
    return (
      <a href={span.href} target="_blank" rel="noopener noreferrer">
        {span.text}
      </a>
    );
  return <>{span.text}</>;
}

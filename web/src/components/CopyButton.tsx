import { useEffect, useState } from 'react';
import { CheckIcon, CopyIcon } from '../icons.js';

/** Copies `text` to the clipboard and says so for a moment. */
export function CopyButton({ text, label, className }: { text: string; label: string; className?: string }) {
  const [copied, setCopied] = useState(false);
  useEffect(() => {
    if (!copied) return;
    const timer = setTimeout(() => setCopied(false), 2000);
    return () => clearTimeout(timer);
  }, [copied]);

  async function copy() {
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      fallbackCopy(text);
    }
    setCopied(true);
  }

  return (
    <button type="button" className={className ?? 'button button-secondary'} onClick={() => void copy()} aria-live="polite">
      {copied ? <CheckIcon /> : <CopyIcon />}
      <span className="button-label">{copied ? 'Copied' : label}</span>
    </button>
  );
}

/** Without clipboard permission: a selected, off-screen text field and the old copy command. */
function fallbackCopy(text: string): void {
  const field = document.createElement('textarea');
  field.value = text;
  field.setAttribute('readonly', '');
  field.className = 'offscreen';
  document.body.append(field);
  field.select();
  try {
    document.execCommand('copy');
  } finally {
    field.remove();
  }
}

import { ChorusError } from './errors.js';
import { firstInvisible } from './invisible-text.js';
import { codePointName, hiddenCharacterProblem, unsafeCharacterProblem } from './text-safety.js';

/**
 * The rule for the names people see: user names and chat names. Shared by the server (which
 * enforces it) and the clients (which can check a name before sending it and show the same
 * reason). A name is trimmed and normalised to NFC, so that "é" typed as one code point or as
 * "e" plus a combining accent is one name; it may not hold characters that are invisible or
 * that reorder what follows (zero-width spaces, bidi overrides, Hangul fillers, the blank braille
 * pattern: "alice\u200b" would pass for "alice", "\u3164" shows as no name at all,
 * "\u202egnp.exe" shows as "exe.png"), nor control characters, nor code points Unicode has not
 * assigned yet (which may become any of those). Emoji sequences keep the invisible characters
 * they are built with (see SEQUENCE).
 */
export const NAME_LENGTH = {
  user: { min: 1, max: 64 },
  chat: { min: 1, max: 100 },
} as const;

export type NameKind = keyof typeof NAME_LENGTH;

const LABEL: Record<NameKind, string> = { user: 'Name', chat: 'Chat name' };

/** The form a name is stored and compared in: trimmed, NFC. */
export function normalizeName(value: string): string {
  // Normalising a lone surrogate is harmless (it stays), and the rule below refuses it.
  return value.normalize('NFC').trim();
}

/** Why the server refuses this name (after normalizeName), or undefined when it takes it. */
export function nameProblem(kind: NameKind, name: string): ChorusError | undefined {
  const label = LABEL[kind];
  const { min, max } = NAME_LENGTH[kind];
  const length = [...name].length;
  if (length < min) return new ChorusError('INVALID_FIELD', `${label} must not be empty`, 'name');
  if (length > max) return new ChorusError('INVALID_FIELD', `${label} must be at most ${max} characters`, 'name');
  const problem = characterProblem(name);
  if (problem) return new ChorusError('INVALID_FIELD', `${label} ${problem}`, 'name');
  return undefined;
}

/**
 * Sequences drawn as one thing that need a character invisible on its own: it is then part of
 * what shows, not a hidden difference. An emoji takes a presentation selector (U+FE0E text,
 * U+FE0F emoji: "❤️") or a skin tone, emoji are joined by U+200D ("👩‍💻", "🏳️‍🌈"), a keycap is a
 * digit, U+FE0F and U+20E3 ("1️⃣"); a Han ideograph may take a variation selector (an ideographic
 * variation sequence: the registered form of a kanji, as in Japanese family names), a Mongolian
 * letter a free variation selector (which of its forms is meant). A selector these allow where
 * it changes nothing ("😀\ufe0f") makes a look-alike, which the skeleton folds (name-skeleton.ts).
 * Tag sequences (the flags of England, Scotland, Wales) are refused: tags can hide any ASCII text.
 */
const EMOJI = String.raw`(?:\p{Extended_Pictographic}(?:[\uFE0E\uFE0F]|\p{Emoji_Modifier})?|[#*0-9]\uFE0F?\u20E3)`;
const SEQUENCE = new RegExp(
  String.raw`${EMOJI}(?:\u200D${EMOJI})*|\p{Script=Han}[\uFE00-\uFE0F\u{E0100}-\u{E01EF}]|\p{Script=Mongolian}[\u180B-\u180D\u180F]`,
  'gu',
);
const SEQUENCE_JOINER = /[\u200D\uFE00-\uFE0F\u{E0100}-\u{E01EF}\u180B-\u180D\u180F]/gu;

/**
 * Not yet assigned, so no font draws it, and a later Unicode may make it anything, invisible
 * included. Except in the blocks kept for emoji: those are future emoji, which a phone newer than
 * the server may already offer.
 */
const UNASSIGNED = /(?!\p{Extended_Pictographic})\p{Cn}/u;

/** Why a name may not hold one of its characters, naming it, or undefined. */
function characterProblem(name: string): string | undefined {
  const shown = name.replace(SEQUENCE, (sequence) => sequence.replace(SEQUENCE_JOINER, ''));
  const unsafe = unsafeCharacterProblem(shown);
  if (unsafe) return unsafe;
  const invisible = firstInvisible(shown);
  if (invisible) return hiddenCharacterProblem(invisible);
  const unassigned = UNASSIGNED.exec(shown)?.[0];
  if (unassigned) return `must not contain characters Unicode has not assigned yet (found ${codePointName(unassigned)})`;
  return undefined;
}

/** normalizeName, then nameProblem thrown: the server's one call. */
export function checkedName(kind: NameKind, value: string): string {
  const name = normalizeName(value);
  const problem = nameProblem(kind, name);
  if (problem) throw problem;
  return name;
}

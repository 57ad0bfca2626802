import { ZxcvbnFactory, type ZxcvbnResult } from '@zxcvbn-ts/core';
import { adjacencyGraphs, dictionary } from '@zxcvbn-ts/language-common';
import { ChorusError } from './errors.js';

/**
 * Which passwords the server takes for a new account (NIST SP 800-63B 5.1.1.2): at least 8
 * characters, and not one an attacker tries early: none found in lists of commonly used and
 * breached passwords, none that is mostly the user's own name or email, none made of repeats,
 * sequences or keyboard walks. The estimate is zxcvbn's (@zxcvbn-ts, with its common-password
 * and diceware lists), not a composition rule of our own. Shared by the server, which enforces
 * it, and the clients, which can show the same reason before sending.
 */
export const PASSWORD_LENGTH = { min: 8, max: 1024 } as const;

/**
 * zxcvbn's score 2 and up: the password withstands at least about a million guesses. Against
 * the login throttle (docs/security.md) that is years of online guessing.
 */
const MIN_SCORE = 2;

/** What the user's password must not be built from. */
export interface PasswordOwner {
  name?: string;
  email?: string;
}

/**
 * Characters the estimator reads. Its matching grows much faster than linearly (a random 256
 * characters took ~0.4 s of the event loop, a denial of service per request); past 32 a password
 * is judged by its first 32, which is where a common or personal one shows anyway.
 */
const ESTIMATED_LENGTH = 32;

let estimator: ZxcvbnFactory | undefined;

/** Built on first use: loading the lists takes about 0.1 s. */
function zxcvbn(): ZxcvbnFactory {
  estimator ??= new ZxcvbnFactory({ dictionary, graphs: adjacencyGraphs, maxLength: ESTIMATED_LENGTH });
  return estimator;
}

/** The name, the email, and the pieces of each, as zxcvbn's "user inputs". */
function ownerWords(owner: PasswordOwner): string[] {
  const words = new Set<string>(['chorus']);
  for (const value of [owner.name, owner.email]) {
    if (!value) continue;
    const lower = value.trim().toLowerCase();
    words.add(lower);
    for (const piece of lower.split(/[\s@._+-]+/)) if (piece.length >= 3) words.add(piece);
  }
  return [...words];
}

/** A match against the owner's words that makes up at least half the password. */
function isMostlyOwnerWords(result: ZxcvbnResult, password: string): boolean {
  const ownerChars = result.sequence
    .filter((match) => match.pattern === 'dictionary' && 'dictionaryName' in match && match.dictionaryName === 'userInputs')
    .reduce((sum, match) => sum + [...match.token].length, 0);
  return ownerChars > 0 && ownerChars * 2 >= Math.min([...password].length, ESTIMATED_LENGTH);
}

function isInCommonList(result: ZxcvbnResult): boolean {
  return result.sequence.some((match) => match.pattern === 'dictionary' && 'dictionaryName' in match && match.dictionaryName === 'passwords-common');
}

function refuse(reason: string): ChorusError {
  return new ChorusError('INVALID_FIELD', reason, 'password');
}

/** Why the server refuses this password for this user, or undefined when it takes it. */
export function passwordProblem(password: string, owner: PasswordOwner = {}): ChorusError | undefined {
  const length = [...password].length;
  if (length < PASSWORD_LENGTH.min) return refuse(`Password must be at least ${PASSWORD_LENGTH.min} characters`);
  if (length > PASSWORD_LENGTH.max) return refuse(`Password must be at most ${PASSWORD_LENGTH.max} characters`);
  // A lone surrogate has no UTF-8 form: two different passwords would hash the same.
  if (/\p{Cs}/u.test(password)) return refuse('Password is not well-formed Unicode text');
  const result = zxcvbn().check(password, ownerWords(owner));
  if (isMostlyOwnerWords(result, password) || (result.score < MIN_SCORE && result.feedback.warning === 'userInputs')) {
    return refuse('Password must not be built from your name or email address');
  }
  if (result.score >= MIN_SCORE) return undefined;
  if (isInCommonList(result)) {
    return refuse('Password is too common: it is on lists of passwords attackers try first. A few unrelated words make a strong one');
  }
  return refuse('Password is too easy to guess (repeated characters, sequences, keyboard patterns or dates). A few unrelated words make a strong one');
}

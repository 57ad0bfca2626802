/**
 * The line above a compose box saying who is typing, for every client (the web imports only
 * protocol/). Names in the order they started typing; undefined when nobody is. Beyond two names
 * the line stops naming people: it must fit above an input, and a long list changes too often
 * to be read.
 */
export function typingSentence(names: readonly string[]): string | undefined {
  if (names.length === 0) return undefined;
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
  return 'Several people are typing…';
}

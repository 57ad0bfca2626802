import type { Command } from 'commander';
import { usageError } from './output.js';

/**
 * `chorus help [COMMAND]`, in place of commander's own, which answers a name it does not know
 * with the whole program's help on stderr and no word that the name is unknown.
 */
export function registerHelpCommand(program: Command): void {
  program.helpCommand(false);
  program
    .command('help')
    .description('display help for command')
    .argument('[command]', 'the command to describe')
    .action((name: string | undefined) => {
      if (name === undefined) program.help();
      const names = program.commands.map((command) => command.name());
      const command = program.commands.find((candidate) => candidate.name() === name);
      if (!command) throw usageError(unknownCommandLine(name, names));
      command.help();
    });
}

/** "unknown command 'chts' (did you mean chats?)", or, when nothing is close, the commands there are. */
export function unknownCommandLine(name: string, commands: readonly string[]): string {
  const close = closestNames(name, commands);
  if (close.length > 0) return `unknown command '${name}' (did you mean ${close.join(' or ')}?)`;
  return `unknown command '${name}': the commands are ${commands.join(', ')}`;
}

/** The names `word` begins (two letters or more), else those a typo away: the fewest edits, at most two, and not most of the word. */
function closestNames(word: string, names: readonly string[]): string[] {
  const typed = word.toLowerCase();
  const begun = typed.length >= 2 ? names.filter((name) => name.startsWith(typed)) : [];
  if (begun.length > 0) return begun;
  const scored = names.map((name) => ({ name, distance: editDistance(typed, name) }));
  const allowed = (name: string) => Math.min(2, Math.floor(Math.max(word.length, name.length) / 3));
  const near = scored.filter(({ name, distance }) => distance <= allowed(name));
  const best = Math.min(...near.map(({ distance }) => distance));
  return near.filter(({ distance }) => distance === best).map(({ name }) => name);
}

/** Edits (insert, delete, replace, swap two neighbours) that turn `a` into `b`. */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

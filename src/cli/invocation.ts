import type { Command } from 'commander';

/**
 * How this person starts Chorus, so that a message naming a command names one that runs for
 * them. Inside the clone, through npm (`npx chorus …`, `npm start`, `npm run chorus`), `chorus`
 * alone is not a command: it is `npx chorus`. Installed on the PATH (`npm link`, a global
 * install), it is `chorus`. Decided once, at the edge (main.ts), from the environment npm gives
 * the processes it starts.
 */
let command = 'chorus';
/** The --profile this command was given, if any: hints name it, or they would act on another profile. */
let profileArgs = '';

export function chorusCommandFor(env: NodeJS.ProcessEnv): string {
  return env.npm_lifecycle_event !== undefined || env.npm_command !== undefined ? 'npx chorus' : 'chorus';
}

export function setChorusCommand(env: NodeJS.ProcessEnv): void {
  command = chorusCommandFor(env);
}

/**
 * Decides how hints name commands for this run of `program`: the way Chorus was started (from
 * `env`), and, once the options are parsed, the --profile given.
 */
export function followInvocation(program: Command, env: NodeJS.ProcessEnv): void {
  setChorusCommand(env);
  // Before the command's own parse, for the hints its refusals give (an unknown option), then again once all is parsed.
  program.hook('preSubcommand', (parent) => setChorusProfile(parent.opts<{ profile?: string }>().profile));
  program.hook('preAction', (_program, action) => setChorusProfile(action.optsWithGlobals<{ profile?: string }>().profile));
}

/**
 * Hints name the --profile the person gave: "chorus join X" without it would act on the default
 * profile, another login than the one the hint is about. Set once the options are parsed (main.ts).
 */
export function setChorusProfile(profile: string | undefined): void {
  profileArgs = profile === undefined ? '' : ` --profile ${shellWord(profile)}`;
}

/**
 * `chorus ARGS` as this person runs it: "npx chorus login" inside the clone, "chorus login" when
 * installed, with the --profile this command was given ("chorus --profile ~/grace login").
 */
export function chorusCommand(args: string): string {
  return `${command}${profileArgs} ${args}`;
}

/** The email address this command acts for, once known (the profile's user, or register's --email): "log in again" hints name it. */
let loginEmail: string | undefined;

export function setLoginEmail(email: string | undefined): void {
  loginEmail = email;
}

/** How this person logs in again: with the email address when known, else a placeholder to fill in (login cannot guess it). */
export function loginCommand(): string {
  return chorusCommand(`login --email ${loginEmail === undefined ? 'EMAIL' : shellWord(loginEmail)}`);
}

/** `chorus ARGS` for someone else to run (a join hint for the others): their own profile, not ours. */
export function chorusCommandForOthers(args: string): string {
  return `${command} ${args}`;
}

/**
 * What starts the web client again: `npm start` when that is how `chorus up` was started, with
 * `options` (already shell words: the flags that name its server, data and ports), without
 * which the same command could start another, empty server.
 */
export function relaunchCommand(env: NodeJS.ProcessEnv, subcommand: 'up' | 'client', options: readonly string[] = []): string {
  const given = options.length > 0 ? ` ${options.join(' ')}` : '';
  if (subcommand === 'up' && env.npm_lifecycle_event === 'start') return profileArgs || given ? `npm start --${profileArgs}${given}` : 'npm start';
  return `${chorusCommandFor(env)}${profileArgs} ${subcommand}${given}`;
}

/** An option's flag from its name as commander keeps it: httpPort → --http-port. */
export function flagOf(name: string): string {
  return `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** `--flag value` for each option given a value (names as commander keeps them: httpPort), as shell words. */
export function givenFlags(values: Readonly<Record<string, string | undefined>>): string[] {
  return Object.entries(values).flatMap(([name, value]) => (value === undefined ? [] : [flagOf(name), shellWord(value)]));
}

/** A word a POSIX shell reads back as it is: bare when it holds nothing the shell treats specially, else in single quotes. */
export function shellWord(word: string): string {
  if (/^[A-Za-z0-9_./:@%+=,~-]+$/.test(word) && !word.startsWith('~')) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

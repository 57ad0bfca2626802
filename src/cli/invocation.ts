/**
 * How this person starts Chorus, so that a message naming a command names one that runs for
 * them. Inside the clone, through npm (`npx chorus …`, `npm start`, `npm run chorus`), `chorus`
 * alone is not a command: it is `npx chorus`. Installed on the PATH (`npm link`, a global
 * install), it is `chorus`. Decided once, at the edge (main.ts), from the environment npm gives
 * the processes it starts.
 */
let command = 'chorus';

export function chorusCommandFor(env: NodeJS.ProcessEnv): string {
  return env.npm_lifecycle_event !== undefined || env.npm_command !== undefined ? 'npx chorus' : 'chorus';
}

export function setChorusCommand(env: NodeJS.ProcessEnv): void {
  command = chorusCommandFor(env);
}

/** `chorus ARGS` as this person runs it: "npx chorus login" inside the clone, "chorus login" when installed. */
export function chorusCommand(args: string): string {
  return `${command} ${args}`;
}

/** What starts the web client again: `npm start` when that is how `chorus up` was started. */
export function relaunchCommand(env: NodeJS.ProcessEnv, subcommand: 'up' | 'client'): string {
  if (subcommand === 'up' && env.npm_lifecycle_event === 'start') return 'npm start';
  return `${chorusCommandFor(env)} ${subcommand}`;
}

import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { registerClientCommand } from './client.js';
import { PASSWORD_HELP, registerAccountCommands } from './account.js';
import { registerChatCommands } from './chat-commands.js';
import { registerDoctorCommand } from './doctor.js';
import { registerMessagingCommands } from './messaging-commands.js';
import { registerHelpCommand, unknownCommandLine } from './help-command.js';
import { followInvocation } from './invocation.js';
import { registerPresenceCommands } from './presence-commands.js';
import { EXIT_USAGE, reportFailure } from './output.js';
import { registerServerCommand } from './server.js';
import { registerUpCommand } from './up.js';

/**
 * The `chorus` program. Each command group lives in its own file; this one wires them together,
 * and is the only place where failures become exit codes. The environment is read here, at the
 * edge, and handed down.
 */
/** The version in package.json: two folders up from this file, in src/cli as in dist/cli. */
function packageVersion(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

function buildProgram(env: NodeJS.ProcessEnv): Command {
  const program = new Command('chorus')
    .description('Chorus: group chat for a local network. Run a server, then register, create or join chats.')
    .version(packageVersion(), '--version', 'print the version of Chorus and exit')
    .option('--profile <dir>', 'folder holding your login and server address (default: $CHORUS_HOME, else ~/.config/chorus)')
    .showSuggestionAfterError()
    .configureOutput({ outputError: (text, write) => write(errorLine(text, program)) })
    // Commander's own errors (unknown option, missing argument) become usage errors, exit 2.
    .exitOverride();
  followInvocation(program, env);

  registerUpCommand(program, env);
  registerServerCommand(program);
  registerClientCommand(program, env);
  registerAccountCommands(program, env);
  registerChatCommands(program, env);
  registerMessagingCommands(program, env);
  registerPresenceCommands(program, env);
  registerDoctorCommand(program, env);
  registerHelpCommand(program);

  program.addHelpText(
    'after',
    `
Getting started:
  chorus up                                       a server on this machine and the web client, in the browser
  chorus server                                   or a server alone (another terminal), then:
  chorus register --name Ada --email ada@example.com
  chorus create "Team room"                       prints the code others join with
  chorus join ABCDE-12345
  chorus chat ABCDE-12345                         talk in the terminal (or: send, tail)
  chorus doctor                                   messages do not arrive? checks the way they take

Your login and the server's address are kept in a profile folder: --profile DIR, else
$CHORUS_HOME, else $XDG_CONFIG_HOME/chorus or ~/.config/chorus (readable by you only).
${PASSWORD_HELP}
Commands that print results take --json for scripts. Failures print one line on stderr and exit 1,
or 2 when the command itself is wrong. "chorus help COMMAND" shows a command's options.`,
  );
  return program;
}

/**
 * Commander's error in Chorus's words: "chorus: …"; an unknown command (`chorus chts`) as
 * `chorus help chts` says it, with the one meant or the commands there are.
 */
function errorLine(text: string, program: Command): string {
  const unknown = /^error: unknown command '([^']*)'/.exec(text);
  if (unknown) return `chorus: ${unknownCommandLine(unknown[1]!, program.commands.map((command) => command.name()))}\n`;
  return text.replace(/^error: /, 'chorus: ');
}

async function run(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const program = buildProgram(env);
  try {
    await program.parseAsync(argv);
    // A command whose output already says what failed (doctor's report) sets only the code.
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    // Commander has already printed its message (or the help, which exits 0).
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : EXIT_USAGE;
    return reportFailure(error);
  }
}

// A reader that stops early (`chorus history --json | head -1`) closes the pipe: what is left
// of the output has nowhere to go, and the command ends as it would have, not with a stack trace
// (an 'error' event with no listener). tail and chat listen too, to stop following.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
});
process.exitCode = await run(process.argv, process.env);

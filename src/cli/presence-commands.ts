import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { requireSession } from './account.js';
import { onChat } from './chat-commands.js';
import { chatCodeArgument } from './options.js';
import { plural, printResult } from './output.js';
import { membersTable, positionText, receiptsSentence } from './presence-views.js';
import { terminalColumns } from './table.js';

/** `chorus read`, `settings` and `members`: read positions, private mode, and who is in a chat. */

export function registerPresenceCommands(program: Command, env: NodeJS.ProcessEnv): void {
  program
    .command('read')
    .description('mark a chat as read up to a message (by default the latest); prints where your read position is now')
    .argument('<code>', "the chat's code")
    .argument('[seq]', 'the sequence number of the last message read (default: the latest)', wholeNumber)
    .option('--json', 'print {"chat","readSeq","latestSeq"}')
    .addHelpText(
      'after',
      `
Your read position is the last message you have read in a chat: your unread counts come from it,
the same on every device, and members see it as "Seen by …" unless your receipts are off
(chorus settings --receipts off). It only moves forward: a lower SEQ leaves it where it is.
chorus chat moves it by itself as it shows messages.
  chorus read ABCDE-12345          everything read
  chorus read ABCDE-12345 40       read up to #40`,
    )
    .action(async (input: string, seq: number | undefined, options: { json?: boolean }, command: Command) => {
      const code = chatCodeArgument(input);
      const { client } = await requireSession(command, env);
      const chat = await onChat(code, () => client.getChat(code));
      const asked = seq ?? chat.latestSeq;
      const readSeq = await onChat(code, () => client.setReadPosition(code, asked));
      printResult(options.json, { chat: code, readSeq, latestSeq: chat.latestSeq }, () => {
        const where = `Read position in ${code}: ${positionText(readSeq, chat.latestSeq)}.`;
        if (readSeq > asked) return `${where} (It only moves forward: #${asked} is behind it.)`;
        // The server stops at the latest message: a later one is not there to have been read.
        return asked > chat.latestSeq ? `${where} (There is no #${asked} yet: the latest is #${chat.latestSeq}.)` : where;
      });
    });

  program
    .command('settings')
    .description('show your account settings, or change them: --receipts off is private mode')
    .option('--receipts <on|off>', 'share how far you have read with the members of your chats (on), or not (off: private mode)', onOff)
    .option('--json', 'print {"receipts"}')
    .addHelpText(
      'after',
      `
Private mode (--receipts off): nobody sees how far you have read, in any chat. Your read position
is still kept, for your own unread counts on every device.
  chorus settings                  show them
  chorus settings --receipts off   private mode`,
    )
    .action(async (options: { receipts?: boolean; json?: boolean }, command: Command) => {
      const { client } = await requireSession(command, env);
      const settings = options.receipts === undefined ? await client.settings() : await client.updateSettings({ receipts: options.receipts });
      printResult(options.json, settings, () => receiptsSentence(settings.receipts));
    });

  program
    .command('members')
    .description("list a chat's members: the creator marked, who is online, away or offline, when last seen, and how far each has read")
    .argument('<code>', "the chat's code")
    .option('--json', 'print the members as JSON: {"id","name","joinedAt","presence","lastSeenAt","creator","readSeq"?}')
    .addHelpText(
      'after',
      `
PRESENCE is online (a client connected and in use), away (idle for 5 minutes, or its window
hidden) or offline. READ is the last message a member has read, or "private" for members whose
receipts are off (chorus settings).`,
    )
    .action(async (input: string, options: { json?: boolean }, command: Command) => {
      const code = chatCodeArgument(input);
      const { client, profile } = await requireSession(command, env);
      const members = await onChat(code, () => client.listMembers(code));
      const online = members.filter((m) => m.presence !== 'offline').length;
      printResult(options.json, members, () => [...membersTable(members, profile.user?.id, terminalColumns(process.stdout)), '', `${plural(members.length, 'member')}, ${online} online or away.`]);
    });
}

/** For commander: on or off (also yes/no, true/false), as a boolean. */
function onOff(value: string): boolean {
  const v = value.trim().toLowerCase();
  if (['on', 'yes', 'true'].includes(v)) return true;
  if (['off', 'no', 'false'].includes(v)) return false;
  throw new InvalidArgumentError('give on or off.');
}

/** For commander: a sequence number, 0 or more. */
function wholeNumber(value: string): number {
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) throw new InvalidArgumentError('Give a message\'s sequence number, a whole number (e.g. 42).');
  return Number(value);
}

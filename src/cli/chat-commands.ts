import { HISTORY_PAGE_MAX } from '../protocol/limits.js';
import type { Command } from 'commander';
import type { ApiClient, Chat } from '../client/api.js';
import type { ChatMessage } from '../protocol/message.js';
import { ChorusError } from '../protocol/errors.js';
import { SenderLabels } from '../protocol/name-skeleton.js';
import { requireSession } from './account.js';
import { chorusCommand, chorusCommandForOthers, shellWord } from './invocation.js';
import { chatCodeArgument, explainDashText, positiveInteger } from './options.js';
import { chatsTable } from './chat-views.js';
import { CliError, messageLine, plural, printResult, terminalSafe } from './output.js';
import { terminalColumns } from './table.js';
import { fitToTerminal } from './wrap.js';

/** `chorus create`, `join`, `leave`, `chats`, `history`. */

const HISTORY_DEFAULT = 50;
/** The most the API returns in one page (docs/api.md); longer histories take several. */

export function registerChatCommands(program: Command, env: NodeJS.ProcessEnv): void {
  // `chorus create -team-` is refused as an unknown option: the refusal says how to name it so.
  explainDashText(program.command('create'), (word) => `a name that starts with "-" goes after --, as in ${chorusCommand(`create -- ${shellWord(word)}`)}`)
    .description('create a chat and print its code, which is what others need to join')
    .argument('<name>', 'the chat\'s name (1..100 characters; one that starts with "-" goes after --)')
    .option('--json', 'print the chat as JSON')
    .action(async (name: string, options: { json?: boolean }, command: Command) => {
      const { client } = await requireSession(command, env);
      const chat = await client.createChat(name);
      printResult(options.json, chatView(chat), () => [
        `Created "${terminalSafe(chat.name)}" with code ${chat.code}.`,
        `Others join it with: ${chorusCommandForOthers(`join ${chat.code}`)}`,
      ]);
    });

  program
    .command('join')
    .description('join a chat by its code (any case, dash optional)')
    .argument('<code>', 'the chat\'s code, e.g. ABCDE-12345')
    .option('--json', 'print the chat as JSON')
    .action(async (input: string, options: { json?: boolean }, command: Command) => {
      const code = chatCodeArgument(input);
      const { client } = await requireSession(command, env);
      // Joining twice is harmless; saying "Joined" the second time would not be true.
      const already = (await client.listChats()).some((mine) => mine.code === code);
      const chat = await onChat(code, () => client.joinChat(code));
      printResult(options.json, chatView(chat), () =>
        `${already ? 'You are already in' : 'Joined'} "${terminalSafe(chat.name)}" (${chat.code}): ${plural(chat.memberCount, 'member')}.`,
      );
    });

  program
    .command('leave')
    .description('leave a chat')
    .argument('<code>', 'the chat\'s code')
    .option('--json', 'print the result as JSON')
    .action(async (input: string, options: { json?: boolean }, command: Command) => {
      const code = chatCodeArgument(input);
      const { client } = await requireSession(command, env);
      await onChat(code, () => client.leaveChat(code), { hintJoin: false });
      printResult(options.json, { left: code }, () => `Left ${code}.`);
    });

  program
    .command('chats')
    .description("list my chats: code, name, members, messages so far, and how many of others' messages you have not read")
    .option('--json', 'print the chats as JSON')
    .action(async (options: { json?: boolean }, command: Command) => {
      const { client } = await requireSession(command, env);
      const chats = await client.listChats();
      printResult(options.json, chats.map(chatView), () =>
        chats.length === 0
          ? `No chats yet: create one with ${chorusCommand('create NAME')}, or join one with ${chorusCommand('join CODE')}.`
          : chatsTable(chats, terminalColumns(process.stdout)),
      );
    });

  program
    .command('history')
    .description('print the latest messages of a chat, oldest first')
    .argument('<code>', 'the chat\'s code')
    .option('--limit <n>', `how many messages (default ${HISTORY_DEFAULT})`, positiveInteger)
    .option('--json', 'print the messages as JSON')
    .action(async (input: string, options: { limit?: number; json?: boolean }, command: Command) => {
      const code = chatCodeArgument(input);
      const { client } = await requireSession(command, env);
      const [messages, members] = await onChat(code, () => Promise.all([latestMessages(client, code, options.limit ?? HISTORY_DEFAULT), client.listMembers(code)]));
      // Members first: a sender named like another member is numbered even when only one of them spoke.
      const labels = SenderLabels.knowing([...members, ...messages.map((message) => message.sender)]);
      printResult(options.json, messages, () =>
        messages.length === 0 ? `No messages in ${code} yet.` : messages.map((message) => fitToTerminal(messageLine(message, labels), process.stdout)),
      );
    });
}

/** The latest `limit` messages, ascending, paging back when more than one page is asked for. */
async function latestMessages(client: ApiClient, code: string, limit: number): Promise<ChatMessage[]> {
  const pages: ChatMessage[][] = [];
  let count = 0;
  let before: number | undefined;
  while (count < limit) {
    const want = Math.min(limit - count, HISTORY_PAGE_MAX);
    const page = before === undefined ? await client.listMessages(code, { limit: want }) : await client.listMessages(code, { before, limit: want });
    const oldest = page.messages[0];
    if (!oldest) break;
    pages.unshift(page.messages);
    count += page.messages.length;
    // A page may hold fewer than asked (the server caps pages by bytes): only seq 1 ends it.
    if (oldest.seq <= 1) break;
    before = oldest.seq;
  }
  return pages.flat();
}

/** A chat as scripts see it: everything but the chat's multicast key, which is a secret. */
function chatView(chat: Chat) {
  const { code, name, createdAt, createdBy, memberCount, latestSeq, readSeq, unreadCount } = chat;
  return { code, name, createdAt, createdBy, memberCount, latestSeq, readSeq, unreadCount };
}

/** Says which chat was refused, and why, in the user's words (refusals over HTTP or TCP alike). */
export async function onChat<T>(code: string, call: () => Promise<T>, { hintJoin = true } = {}): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw chatRefusal(error, code, { hintJoin }) ?? error;
  }
}

/** The CliError for a refusal about the chat itself (unknown, not a member), else undefined. */
export function chatRefusal(error: unknown, code: string, { hintJoin = true } = {}): CliError | undefined {
  if (!(error instanceof ChorusError)) return undefined;
  if (error.code === 'CHAT_NOT_FOUND') return new CliError(`no chat with code ${code}`);
  if (error.code === 'NOT_A_MEMBER') return new CliError(`you are not a member of ${code}${hintJoin ? `: run ${chorusCommand(`join ${code}`)}` : ''}`);
  return undefined;
}

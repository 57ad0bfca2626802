import { HISTORY_PAGE_MAX, MAX_TEXT_BYTES } from '../protocol/limits.js';
import type { KeyObject } from 'node:crypto';
import type { Command } from 'commander';
import { type ApiClient, type Chat, isSessionEnded } from '../client/api.js';
import { isBlankText } from '../protocol/invisible-text.js';
import { messageTextProblem, textTooLarge } from '../protocol/message-text.js';
import { SenderLabels } from '../protocol/name-skeleton.js';
import type { Profile } from '../client/profile.js';
import { type ChatMessage, Receiver } from '../client/receiver.js';
import { apiReceiverSource } from '../client/receiver-source.js';
import { type Ack, Sender, newClientMessageId } from '../client/sender.js';
import { AwayWhenIdle } from '../client/away.js';
import { ReadPosition } from '../client/read-position.js';
import { TypingSignal, TypingWatch } from '../client/typing.js';
import { MAX_TYPING_MEMBERS } from '../protocol/limits.js';
import { pinnedServerKey } from '../client/server-key.js';
import { receiverFollowsServers, senderTarget } from '../client/several-servers.js';
import type { ServerEndpoint } from '../client/server-list.js';
import { ChorusError } from '../protocol/errors.js';
import { DEFAULT_MULTICAST_INTERFACE } from '../protocol/defaults.js';
import { profileDirOf, requireSession } from './account.js';
import { boundedLines } from './bounded-lines.js';
import { ChatScreen } from './chat-screen.js';
import { fitToTerminal } from './wrap.js';
import { announceDelivery, announceServerMoves, chatDeliveryLine, chatServerLine, tailDeliveryLine, tailServerLine } from './delivery-notes.js';
import { chatRefusal, onChat } from './chat-commands.js';
import { chorusCommand, shellWord } from './invocation.js';
import { chatCodeArgument, countUpTo, explainDashText, multicastInterface } from './options.js';
import { CliError, LineBatcher, describeFailure, messageLine, plural, printNote, printResult, terminalSafe, usageError } from './output.js';
import { ProgressLine } from './progress-line.js';

/** `chorus send`, `tail` and `chat`: a chat's messages out (the Sender) and in (the Receiver). */

const TAIL_HISTORY_DEFAULT = 10;
const CHAT_HISTORY_DEFAULT = 20;
/** send --stdin reads ahead of the acks by at most this many messages. */
const STDIN_BACKLOG = 2048;
/** /quit and Ctrl-D wait this long for messages still awaiting their ack. */
const QUIT_WAIT_MS = 10_000;

const INTERFACE_HELP = `IPv4 address of this machine's interface to receive multicast on (default ${DEFAULT_MULTICAST_INTERFACE})`;

export function registerMessagingCommands(program: Command, env: NodeJS.ProcessEnv): void {
  // `chorus send CODE -text` is refused as an unknown option: the refusal says how to send it.
  explainDashText(program.command('send'), (word) => `a message that starts with "-" goes after --, as in ${chorusCommand(`send CODE -- ${shellWord(word)}`)}`)
    .description('send a message; prints its sequence number once the server has stored it')
    .argument('<code>', "the chat's code")
    .argument('[text...]', 'the message (words after the code are joined with spaces; quote it to keep spacing; one that starts with "-" goes after --)')
    .option('--stdin', 'send each line of stdin as one message instead (lines that show nothing, empty or only spaces, are skipped)')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      `
With --stdin the lines are sent without waiting for each answer; the command ends once every one
is acknowledged and prints how many were sent. A line the server refuses (too long, say) is
named on stderr with the reason, and the command then exits 1; the other lines are still sent.
Lines end at \\n or \\r\\n. If the connection to the server is lost, stderr says so; unanswered
messages wait and go once it is back (nothing is stored twice), and stderr says that too.
When stderr is a terminal and sending takes more than a second, one line there shows how many
are sent and at what rate (the server takes a limited number a second from each person).
  printf 'one\\ntwo\\n' | chorus send ABCDE-12345 --stdin`,
    )
    .action(async (input: string, words: string[], options: { stdin?: boolean; json?: boolean }, command: Command) => {
      const code = chatCodeArgument(input);
      const text = words.length > 0 ? words.join(' ') : undefined;
      if (options.stdin && text !== undefined) throw usageError('give the message as TEXT or with --stdin, not both');
      if (!options.stdin && text === undefined) throw usageError('no message: give TEXT (quoted), or --stdin for one message per line');
      if (text !== undefined) {
        const problem = messageTextProblem(text);
        if (problem) throw problem;
      }
      const { client, chat } = await openChat(command, env, code);
      const sender = await connectSender(client);
      // --stdin on a terminal: how far it is, on a line of its own that a note first erases.
      const progress = new ProgressLine(process.stderr);
      // Messages wait through a lost connection and go once it is back: said, so a pipe that
      // stalls is not a mystery (on stderr: stdout is the result).
      announceConnection(sender, (line) => {
        progress.clear();
        printNote(line);
      });
      try {
        const sent = text !== undefined ? { seqs: [await sendOne(sender, code, text, options.json)], refused: [] } : await sendLines(sender, code, options.json, progress);
        await readUpToOwn(client, chat, sent.seqs);
        if (sent.refused.length > 0) throw new CliError(refusalLines(sent.refused).join('\n'));
      } finally {
        sender.close();
        client.servers?.close();
      }
    });

  program
    .command('tail')
    .description("print a chat's messages as they arrive, until Ctrl-C: the latest few first, then each new one, once and in order")
    .argument('<code>', "the chat's code")
    .option('--history <n>', `how many earlier messages to print first, 0 to ${HISTORY_PAGE_MAX} (default ${TAIL_HISTORY_DEFAULT})`, countUpTo(HISTORY_PAGE_MAX))
    .option('--json', 'print one JSON object per line: {"chat","seq","sender":{"id","name"},"text","sentAt"}')
    .option('--multicast-interface <address>', INTERFACE_HELP)
    .addHelpText(
      'after',
      `
Lines look like those of chorus history: [date time] Name: text. Ctrl-C or SIGTERM stops it (exit 0);
so does the end of the session (a logout, or expiry), with a line saying so (exit 1).
Messages come by multicast; where multicast does not reach this computer, the server sends them
over its TCP connection instead (the same messages, once, in order). One line on stderr says
each change of path, e.g. "chorus: ABCDE-12345: messages now come through the server (…)";
chorus doctor says why, and what to try.`,
    )
    .action(async (input: string, options: { history?: number; json?: boolean; multicastInterface?: string }, command: Command) => {
      const code = chatCodeArgument(input);
      const interfaceAddress = multicastInterface(options.multicastInterface ?? DEFAULT_MULTICAST_INTERFACE);
      const stop = stopSignal();
      try {
        const { client, serverKey, chat } = await openChat(command, env, code);
        const { session, firstAttempt } = await watchSession(client, stop.fail);
        // The session's connection is also the receiver's link to the server: probes, and messages
        // pushed over it when multicast does not reach this computer.
        const receiver = new Receiver({ source: apiReceiverSource(client), serverKey, interfaceAddress, link: session });
        receiverFollowsServers(client, receiver, unpinnedNote);
        announceServerMoves(client.servers, printNote, tailServerLine);
        const lines = new LineBatcher(process.stdout);
        try {
          const labels = await memberLabels(client, code);
          receiver.onMessage((message) => lines.write(options.json ? JSON.stringify(messageView(message)) : fitToTerminal(messageLine(message, labels), process.stdout)));
          // On stderr, with or without --json: stdout holds only the chat's messages.
          receiver.onPathChange(announceDelivery(printNote, tailDeliveryLine));
          watchReceiver(receiver, code, stop.fail);
          await receive(receiver, code, options.history ?? TAIL_HISTORY_DEFAULT);
          lines.flush(); // the history before the note, on a terminal that shows both
          // "Following" means set up: a loss of the server from here on is said.
          await Promise.race([firstAttempt, stop.stopped]);
          printNote(`Following "${terminalSafe(chat.name)}" (${code}); Ctrl-C stops.`);
          await stop.stopped;
        } finally {
          lines.flush();
          receiver.close();
          session.close();
          client.servers?.close();
        }
      } finally {
        stop.dispose();
      }
    });

  program
    .command('chat')
    .description('talk in a chat from the terminal: recent messages, new ones as they arrive, and a line to type in')
    .argument('<code>', "the chat's code")
    .option('--history <n>', `how many earlier messages to show first, 0 to ${HISTORY_PAGE_MAX} (default ${CHAT_HISTORY_DEFAULT})`, countUpTo(HISTORY_PAGE_MAX))
    .option('--multicast-interface <address>', INTERFACE_HELP)
    .addHelpText(
      'after',
      `
Type a message and press Enter to send it. Each message is one line, in the chat's order; while
yours are being sent the prompt counts them ("1 sending >"), and a refused one says why.
/help lists the commands; a line starting with // sends it with one / less. /quit or Ctrl-D
leaves (after waiting a few seconds for messages still being sent); Ctrl-C leaves at once.
In a terminal, a line above the input says who is typing ("Ben is typing…"), and others see the
same of you while you type (not in chats of more than ${MAX_TYPING_MEMBERS} members). Messages shown count as read:
your read position moves with them (chorus read sets it by hand; chorus settings --receipts off
keeps it to yourself). You show as online while you type, away after 5 idle minutes.
Where multicast does not reach this computer, a note says that messages come through the
server instead (the same messages, once, in order); chorus doctor says why, and what to try.`,
    )
    .action(async (input: string, options: { history?: number; multicastInterface?: string }, command: Command) => {
      const code = chatCodeArgument(input);
      const interfaceAddress = multicastInterface(options.multicastInterface ?? DEFAULT_MULTICAST_INTERFACE);
      const stop = stopSignal();
      try {
        const { client, serverKey, chat, profile } = await openChat(command, env, code);
        const me = profile.user ?? (await client.me());
        const sender = await connectSender(client);
        const receiver = new Receiver({ source: apiReceiverSource(client), serverKey, interfaceAddress, link: sender });
        receiverFollowsServers(client, receiver, unpinnedNote);
        try {
          await talk({ code, chat, client, me: { id: me.id, name: me.name }, sender, receiver, history: options.history ?? CHAT_HISTORY_DEFAULT, stop });
        } finally {
          receiver.close();
          sender.close();
          client.servers?.close();
        }
      } finally {
        stop.dispose();
      }
    });
}

/**
 * Labels that know the chat's members from the start: a sender whose name looks like another
 * member's is numbered from its first line, not only once the other has spoken in view (where
 * a newcomer named like the creator passed for them, found trying it as a newcomer).
 */
async function memberLabels(client: ApiClient, code: string): Promise<SenderLabels> {
  return SenderLabels.knowing(await onChat(code, () => client.listMembers(code)));
}

/** The logged-in session, the server's pinned key (checked), and the chat (which must be ours). */
async function openChat(command: Command, env: NodeJS.ProcessEnv, code: string): Promise<{ client: ApiClient; profile: Profile; serverKey: KeyObject; chat: Chat }> {
  const { client, profile } = await requireSession(command, env);
  const serverKey = await pinnedServerKey(client, profile, profileDirOf(command, env));
  const chat = await onChat(code, () => client.getChat(code));
  return { client, profile, serverKey, chat };
}

async function connectSender(client: ApiClient): Promise<Sender> {
  const sender = new Sender({ ...(await senderTarget(client)), token: client.token ?? '' });
  try {
    await sender.connect();
  } catch (error) {
    sender.close();
    // A refusal (the session ended) says so itself; anything else is the TCP port unreachable.
    throw error instanceof ChorusError ? error : new CliError(error instanceof Error ? error.message : String(error));
  }
  return sender;
}

/** How long tail waits for its first connection before saying it follows the chat: multicast needs none. */
const FIRST_CONNECTION_WAIT_MS = 5_000;

/**
 * tail sends nothing, but holds the TCP connection a sender would: the server ends it the moment
 * the session ends (a logout anywhere, or expiry), and tail stops with that rather than go on
 * quietly. A connection that cannot be made is no reason to stop tailing: multicast needs none.
 * `firstAttempt` settles when the first connection is made or has failed (or after a few
 * seconds of neither), never with an error.
 */
async function watchSession(client: ApiClient, fail: (error: unknown) => void): Promise<{ session: Sender; firstAttempt: Promise<void> }> {
  // Held: a first attempt that fails (the server restarting) is tried again, as a lost connection is.
  const session = new Sender({ ...(await senderTarget(client)), token: client.token ?? '', holdConnection: true });
  session.onStateChange(() => {
    if (isSessionEnded(session.failure)) fail(session.failure);
  });
  // Its loss and return are said (on stderr: stdout is the chat's), from the first connection on.
  announceConnection(session, printNote);
  const firstAttempt = new Promise<void>((settled) => {
    const timer = setTimeout(settled, FIRST_CONNECTION_WAIT_MS);
    timer.unref();
    session.connect().then(
      () => settled(),
      () => settled(),
    );
  });
  return { session, firstAttempt };
}

/** A server of the profile without a pinned key: its multicast is not believed (the chat goes on by push). */
function unpinnedNote(endpoint: ServerEndpoint): void {
  printNote(terminalSafe(`chorus: no signing key is pinned for ${endpoint.url}: its multicast is not believed; log in again to pin it`));
}

/**
 * Says once that the connection to the server was lost, and once that it is back: a person
 * watching a chat should know why nothing arrives, and when it may again. Missed messages are
 * repaired from history either way.
 */
function announceConnection(sender: Sender, say: (line: string) => void): void {
  let lost = false;
  // Before the first connection there is nothing to lose: a first attempt that fails is not news.
  let connectedOnce = sender.connectionState === 'connected';
  sender.onStateChange((state) => {
    connectedOnce ||= state === 'connected';
    if (isSessionEnded(sender.failure) || !connectedOnce) return;
    if (state === 'disconnected' && !lost) say('  … connection to the server lost; reconnecting');
    else if (state === 'connected' && lost) say('  … reconnected');
    else return;
    lost = state === 'disconnected';
  });
}

async function sendOne(sender: Sender, code: string, text: string, json: boolean | undefined): Promise<number> {
  const ack = await onChat(code, () => sender.send(code, text));
  printResult(json, { chat: ack.chat, seq: ack.seq, sentAt: ack.sentAt }, () => `Sent to ${ack.chat} as #${ack.seq}.`);
  return ack.seq;
}

/**
 * Writing a message means having read the chat up to it, unless others' messages wait unread
 * (as in the web client): the read position moves over what was read before and the messages
 * just sent, and stops at the first message of someone else's it has not shown. Best effort:
 * the messages are sent either way.
 */
async function readUpToOwn(client: ApiClient, before: Chat, own: number[]): Promise<void> {
  const mine = new Set(own);
  let upTo = before.readSeq ?? 0;
  if (upTo < before.latestSeq) return;
  while (mine.has(upTo + 1)) upTo++;
  if (upTo > (before.readSeq ?? 0)) await client.setReadPosition(before.code, upTo).catch(() => {});
}

interface Refusal {
  line: number;
  reason: string;
}

/**
 * One message per line of stdin, pipelined: the Sender keeps up to its window unacknowledged,
 * and `progress` shows how far it is. The lines refused are the caller's to report.
 */
async function sendLines(sender: Sender, code: string, json: boolean | undefined, progress: ProgressLine): Promise<{ seqs: number[]; refused: Refusal[] }> {
  const acks: (Pick<Ack, 'seq' | 'sentAt'> & { line: number })[] = [];
  const refused: Refusal[] = [];
  const answers: Promise<void>[] = [];
  let waited = 0;
  let lineNumber = 0;
  // A large paste or file takes a while (the server limits each person's rate): once it has
  // taken a second, show how far it is.
  const started = performance.now();
  const showProgress = () => {
    const seconds = (performance.now() - started) / 1000;
    if (seconds < 1) return;
    progress.update(() => `Sending to ${code}: ${acks.length} sent (${Math.round(acks.length / seconds)} a second), ${sender.pending} waiting…`);
  };
  // The session ended (a logout, expiry): no later line can be sent, so stop reading at once.
  sender.onStateChange(() => {
    if (isSessionEnded(sender.failure)) process.stdin.destroy();
  });
  try {
    // Lines past a message's limit are refused by their length alone: stdin may hold no newline at all.
    for await (const read of boundedLines(process.stdin, MAX_TEXT_BYTES)) {
      const line = ++lineNumber;
      if ('tooLongBytes' in read) {
        refused.push({ line, reason: describeFailure(textTooLarge(read.tooLongBytes)).line });
        continue;
      }
      // A blank line in a file is layout, not a message the server would take.
      if (isBlankText(read.text)) continue;
      // A text that cannot be sent is refused by the Sender at once, like any refusal below.
      answers.push(
        sender.send(code, read.text).then(
          (ack) => {
            acks.push({ line, seq: ack.seq, sentAt: ack.sentAt });
            showProgress();
          },
          (error: unknown) => void refused.push({ line, reason: describeFailure(chatRefusal(error, code, { hintJoin: false }) ?? error).line }),
        ),
      );
      // Read on only while the backlog is reasonable: stdin may be much larger than memory.
      while (sender.pending >= STDIN_BACKLOG && waited < answers.length) await answers[waited++];
    }
  } catch (error) {
    // Reading was cut short because the session ended: said below.
    if (!isSessionEnded(sender.failure)) {
      progress.clear();
      throw error;
    }
  }
  await Promise.all(answers);
  progress.clear();
  if (isSessionEnded(sender.failure)) {
    // Left unread, an open stdin would keep the command running after it has said why it stops.
    process.stdin.destroy();
    throw sender.failure;
  }
  acks.sort((a, b) => a.line - b.line);
  refused.sort((a, b) => a.line - b.line);
  const total = acks.length + refused.length;
  printResult(json, { chat: code, sent: acks.length, acks, refused }, () =>
    refused.length === 0 ? `Sent ${plural(acks.length, 'message')} to ${code}.` : `Sent ${acks.length} of ${plural(total, 'message')} to ${code}.`,
  );
  return { seqs: acks.map((a) => a.seq), refused };
}

/** `line 3: why`, or `lines 3-5, 9: why` when several lines were refused for the same reason. */
function refusalLines(refused: Refusal[]): string[] {
  const byReason = new Map<string, number[]>();
  for (const { line, reason } of refused) byReason.set(reason, [...(byReason.get(reason) ?? []), line]);
  return [...byReason].map(([reason, lines]) => `${lines.length === 1 ? 'line' : 'lines'} ${ranges(lines)}: ${reason}`);
}

function ranges(sorted: number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(j === i ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(', ');
}

/** A delivered message as tail --json prints it: exactly these fields, in this order. */
function messageView(m: ChatMessage) {
  return { chat: m.chat, seq: m.seq, sender: { id: m.sender.id, name: m.sender.name }, text: m.text, sentAt: m.sentAt };
}

/**
 * Joins the chat's group and delivers the latest `history` messages first. A group that cannot
 * be joined (a wrong --multicast-interface, a port taken) does not fail it: the receiver has a
 * link, so the server pushes the chat instead, and the path change says why.
 */
async function receive(receiver: Receiver, code: string, history: number): Promise<void> {
  await onChat(code, () => receiver.join(code, { latest: history }));
}

/**
 * Receiver failures: the session or the membership ending stops the command; anything else (the
 * server unreachable while repairing a gap) is said once on stderr, and the receiver retries.
 */
function watchReceiver(receiver: Receiver, code: string, fail: (error: unknown) => void): void {
  let lastNote = '';
  receiver.onError((error) => {
    if (isSessionEnded(error)) return fail(error);
    const refusal = chatRefusal(error, code, { hintJoin: false });
    if (refusal) return fail(refusal);
    const line = `chorus: ${describeFailure(error).line}; retrying`;
    if (line !== lastNote) printNote(terminalSafe(line));
    lastNote = line;
  });
}

interface StopSignal {
  /** Resolves on SIGINT, SIGTERM, or stdout closed by its reader; rejects with `fail`'s error. */
  stopped: Promise<void>;
  stop(): void;
  fail(error: unknown): void;
  dispose(): void;
}

/** Listens from the start, so that a signal during setup still ends the command cleanly, with 0. */
function stopSignal(): StopSignal {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const stopped = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  stopped.catch(() => {}); // awaited later; a failure before that is not "unhandled"
  const onSignal = () => resolve();
  const onStdoutError = (error: NodeJS.ErrnoException) => (error.code === 'EPIPE' ? resolve() : reject(error));
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.stdout.on('error', onStdoutError);
  return {
    stopped,
    stop: resolve,
    fail: reject,
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      process.stdout.off('error', onStdoutError);
    },
  };
}

interface Talk {
  code: string;
  chat: Chat;
  client: ApiClient;
  me: { id: number; name: string };
  sender: Sender;
  receiver: Receiver;
  history: number;
  stop: StopSignal;
}

/** The interactive chat, until /quit, Ctrl-D, Ctrl-C or a signal. */
async function talk({ code, chat, client, me, sender, receiver, history, stop }: Talk): Promise<void> {
  let screen: ChatScreen | undefined;
  const out = (line: string) => (screen ? screen.show(line) : void process.stdout.write(`${fitToTerminal(line, process.stdout)}\n`));
  /**
   * Each message is one line, shown in the chat's order when it arrives, like everyone else's;
   * while one typed here is being sent, the prompt counts it. Those acknowledged but not yet
   * delivered wait here, so that none goes unshown when the chat ends.
   */
  const acknowledged = new Map<string, ChatMessage>();
  const labels = await memberLabels(client, code);
  let deliveredSeq = 0;
  let pending = 0;
  /** Texts sent and not answered yet, by id: if the chat ends before their ack, they are shown, to be sent again. */
  const unanswered = new Map<string, string>();
  let drained: (() => void) | undefined;
  let quitting: 'wait' | 'now' | undefined;
  const showPending = () => screen?.setPending(pending);

  const { typing, watch: typists, readPosition, presence } = presenceOf({ code, chat, client, me, sender, status: (line) => screen?.setStatus(line), note: out });

  out(`Chat "${terminalSafe(chat.name)}" (${code}), ${plural(chat.memberCount, 'member')}.`);
  receiver.onMessage((message) => {
    acknowledged.delete(message.clientMsgId);
    deliveredSeq = message.seq;
    out(messageLine(message, labels));
    typists.messageFrom(code, message.sender.id);
    readPosition.shown(message.seq);
  });
  receiver.onEvents((chatCode, events) => typists.events(chatCode, events));
  watchReceiver(receiver, code, stop.fail);
  sender.onStateChange(() => {
    // The session ended (logout elsewhere, expiry): nothing can be sent any more.
    if (isSessionEnded(sender.failure)) stop.fail(sender.failure);
  });
  announceConnection(sender, out);
  announceServerMoves(client.servers, out, chatServerLine);
  receiver.onPathChange(announceDelivery(out, chatDeliveryLine));
  await receive(receiver, code, history);
  out('— Type a message and press Enter; /quit or Ctrl-D leaves. —');

  const leave = (how: 'wait' | 'now') => {
    quitting ??= how;
    stop.stop();
  };
  /** A line that did not go, shown by its start, and why. */
  const notSent = (text: string, error: unknown) => out(`  ✗ ${snippet(text)} not sent: ${describeFailure(error).line}`);
  const send = (text: string) => {
    const problem = messageTextProblem(text);
    if (problem) return notSent(text, problem);
    typing.stop();
    const id = newClientMessageId();
    pending++;
    unanswered.set(id, text);
    showPending();
    void sender.send(code, text, id).then(
      (ack) => {
        if (ack.seq > deliveredSeq) acknowledged.set(id, { chat: code, seq: ack.seq, sender: me, text, sentAt: ack.sentAt, clientMsgId: id });
      },
      (error: unknown) => {
        if (quitting === 'now') return;
        if (isSessionEnded(error)) return stop.fail(error);
        notSent(text, chatRefusal(error, code, { hintJoin: false }) ?? error);
      },
    ).finally(() => {
      pending--;
      unanswered.delete(id);
      showPending();
      if (pending === 0) drained?.();
    });
  };
  screen = new ChatScreen(process.stdin, process.stdout, {
    line: (text) => {
      presence.active();
      const command = chatCommand(text);
      if (command === undefined) return text === '' ? undefined : send(text);
      if ('send' in command) return send(command.send);
      if (command.name === '/quit') return leave('wait');
      if (command.name === '/help') return out(CHAT_HELP);
      out(`  unknown command ${terminalSafe(command.name)}: /help lists them (start a message with // to send one that begins with /)`);
    },
    tooLong: (bytes, head) => notSent(head, textTooLarge(bytes)),
    end: () => leave('wait'),
    interrupt: () => leave('now'),
    draftChanged: (draft) => {
      presence.active();
      if (draft.trim() === '' || draft.startsWith('/')) typing.stop();
      else typing.keystroke();
    },
  });
  presence.active();

  try {
    await stop.stopped;
    // A signal (SIGINT when not in a terminal, SIGTERM) leaves at once too.
    quitting ??= 'now';
    screen.close();
    if (quitting === 'wait' && pending > 0) {
      // Usually the acks are a few milliseconds away: say something only if they are not.
      const note = setTimeout(() => printNote(`Waiting for ${plural(pending, 'message')} to be acknowledged… (Ctrl-C leaves now)`), 1000);
      const leaveNow = () => drained?.();
      process.once('SIGINT', leaveNow);
      await new Promise<void>((resolve) => {
        drained = resolve;
        setTimeout(resolve, QUIT_WAIT_MS).unref();
      });
      process.off('SIGINT', leaveNow);
      clearTimeout(note);
    }
    // What was acknowledged is stored: show it, from the group if it comes in time, else from its ack.
    await waitUntil(() => acknowledged.size === 0, DELIVERY_WAIT_MS);
    for (const message of [...acknowledged.values()].sort((a, b) => a.seq - b.seq)) out(messageLine(message, labels));
    const lost = [...unanswered.values()];
    for (const text of lost) printNote(`  not acknowledged: ${terminalSafe(text)}`);
    quitting = 'now'; // closing the sender now fails what is left: said here, not once per message
    typing.stop();
    await Promise.race([readPosition.flush(), new Promise((resolve) => setTimeout(resolve, READ_FLUSH_WAIT_MS).unref())]);
    if (lost.length > 0) {
      const them = lost.length === 1 ? 'it' : 'them';
      throw new CliError(`${plural(lost.length, 'message')} above not acknowledged by the server, so perhaps not sent: send ${them} again once the server answers`);
    }
  } finally {
    typists.close();
    presence.close();
    screen.close();
  }
}

/** How long leaving waits for the last read position to be stored. */
const READ_FLUSH_WAIT_MS = 2000;

/**
 * What the chat says of the person using it and shows of the others (issue 13): typing on and
 * off as they type and send (not in chats too big for typing events), online or away as they
 * are active or not, the read position as messages are shown (coalesced), and who else is typing
 * on the status line above the input.
 */
function presenceOf({ code, chat, client, me, sender, status, note }: Pick<Talk, 'code' | 'chat' | 'client' | 'me' | 'sender'> & { status(line: string | undefined): void; note(line: string): void }) {
  const typingAllowed = chat.memberCount <= MAX_TYPING_MEMBERS;
  const typing = new TypingSignal({
    send: (on) => {
      if (typingAllowed) sender.typing(code, on);
    },
  });
  const watch = new TypingWatch({
    selfId: me.id,
    changed: (changed) => {
      if (changed !== code) return;
      const sentence = watch.sentence(code);
      status(sentence === undefined ? undefined : terminalSafe(sentence));
    },
  });
  let failureSaid = false;
  const readPosition = new ReadPosition({
    write: (seq) => client.setReadPosition(code, seq),
    // Said once: the chat goes on without it (an older server, say), and it is tried again later.
    failed: (error) => {
      if (failureSaid || isSessionEnded(error)) return;
      failureSaid = true;
      note(terminalSafe(`  … your read position could not be saved: ${describeFailure(error).line}`));
    },
  });
  readPosition.startAt(chat.readSeq);
  const presence = new AwayWhenIdle({ set: (state) => sender.presence(state) });
  return { typing, watch, readPosition, presence };
}


const CHAT_HELP = `  Enter sends the line. Commands:
    /help   this list
    /quit   leave, once what is being sent is acknowledged (also Ctrl-D); Ctrl-C leaves at once
  A line starting with // sends it with one / less ("//shrug" sends "/shrug").`;

/** How long leaving waits for the group to deliver what was acknowledged, before showing it from the acks. */
const DELIVERY_WAIT_MS = 1000;

/**
 * A typed line that is a command: a leading "/" (so that a typo such as "/qiut" is never sent to
 * the room); "//" escapes it, sending the rest with one "/" less. Undefined for a message.
 */
export function chatCommand(line: string): { name: string } | { send: string } | undefined {
  const trimmed = line.trim();
  if (!trimmed.startsWith('/')) return undefined;
  if (trimmed.startsWith('//')) return { send: line.slice(line.indexOf('/') + 1) };
  return { name: trimmed.split(/\s+/)[0]!.toLowerCase() };
}

async function waitUntil(done: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
}

/** A short, terminal-safe quote of a message, for the lines that say what became of it. */
function snippet(text: string): string {
  const chars = [...terminalSafe(text).replace(/\s+/g, ' ')];
  return `"${chars.length > 30 ? `${chars.slice(0, 29).join('')}…` : chars.join('')}"`;
}


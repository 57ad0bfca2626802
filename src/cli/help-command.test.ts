import { describe, expect, it } from 'vitest';
import { unknownCommandLine } from './help-command.js';

const COMMANDS = ['up', 'server', 'login', 'logout', 'create', 'chats', 'history', 'send', 'tail', 'chat', 'help'];

describe('unknownCommandLine', () => {
  it('names the command meant: one a typo away, or those the word begins', () => {
    expect(unknownCommandLine('chts', COMMANDS)).toBe("unknown command 'chts' (did you mean chats?)");
    expect(unknownCommandLine('sned', COMMANDS)).toBe("unknown command 'sned' (did you mean send?)");
    expect(unknownCommandLine('Tail', COMMANDS)).toBe("unknown command 'Tail' (did you mean tail?)");
    expect(unknownCommandLine('log', COMMANDS)).toBe("unknown command 'log' (did you mean login or logout?)");
    expect(unknownCommandLine('histroy', COMMANDS)).toBe("unknown command 'histroy' (did you mean history?)");
  });

  it('lists the commands when nothing is close', () => {
    expect(unknownCommandLine('nothing', COMMANDS)).toBe(`unknown command 'nothing': the commands are ${COMMANDS.join(', ')}`);
    expect(unknownCommandLine('x', COMMANDS)).toBe(`unknown command 'x': the commands are ${COMMANDS.join(', ')}`);
    // Two letters of five changed is another word, not a typo.
    expect(unknownCommandLine('stats', COMMANDS)).toBe(`unknown command 'stats': the commands are ${COMMANDS.join(', ')}`);
  });
});

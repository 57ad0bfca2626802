/**
 * `chorus client` as its own process, for the browser tests: the same commander wiring the
 * real CLI uses (a global --profile, then the client command), without depending on main.ts.
 */
import { Command } from 'commander';
import { registerClientCommand } from '../../../src/cli/client.js';
import { followInvocation } from '../../../src/cli/invocation.js';
import { describeFailure } from '../../../src/cli/output.js';

const program = new Command('chorus').option('--profile <dir>', 'profile folder').exitOverride();
followInvocation(program, process.env);
registerClientCommand(program, process.env);
try {
  await program.parseAsync(process.argv);
} catch (error) {
  const { line, exitCode } = describeFailure(error);
  process.stderr.write(`chorus: ${line}\n`);
  process.exit(exitCode);
}

/** Runs `cameras ...` the way src/cli/main.ts runs its commands, until it is wired in there. */
import { Command, CommanderError } from 'commander';
import { registerCamerasCommand } from '../../src/cli/cameras.ts';

const program = new Command('facegate').exitOverride();
registerCamerasCommand(program);
try {
  await program.parseAsync(process.argv);
} catch (e) {
  process.exitCode = e instanceof CommanderError ? e.exitCode : 1;
  if (!(e instanceof CommanderError)) process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
}

/**
 * The `identities`, `gallery` and `enroll` commands in a program built like src/cli/main.ts (exitOverride,
 * errors printed once, exit code set), without loading every other command.
 * usage: node --import tsx test/helpers/gallery-cli.ts identities|gallery|enroll ...
 */
import { Command, CommanderError } from 'commander';
import { registerIdentitiesCommand } from '../../src/cli/identities.ts';
import { registerGalleryCommand } from '../../src/cli/gallery.ts';
import { registerEnrollCommand } from '../../src/cli/enroll.ts';
import { describeError } from '../../src/cli/common.ts';

const program = new Command('facegate').showHelpAfterError('(run with --help for usage)').exitOverride();
registerIdentitiesCommand(program, { defaultDb: process.env.FACEGATE_TEST_DB ?? 'gallery.db' });
registerGalleryCommand(program, { defaultDb: process.env.FACEGATE_TEST_DB ?? 'gallery.db' });
registerEnrollCommand(program);
try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) process.exitCode = e.exitCode;
  else {
    process.stderr.write(`error: ${describeError(e)}\n`);
    process.exitCode = 1;
  }
}

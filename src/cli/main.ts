import { Command, CommanderError } from 'commander';
import { describeError } from './common.ts';
import { registerDetectCommand } from './detect.ts';
import { registerModelsCommand } from './models.ts';
import { registerEvalCommand } from './eval.ts';
import { registerCamerasCommand } from './cameras.ts';
import { registerEnrollCommand, DEFAULT_GALLERY_DB } from './enroll.ts';
import { registerIdentitiesCommand } from './identities.ts';
import { registerGalleryCommand } from './gallery.ts';
import { registerConfigCommand } from '../config/cli.ts';
import { registerRunCommands } from './run.ts';
import { registerHubCommand } from './hub.ts';
import { registerDoctorCommand } from './doctor.ts';

const program = new Command('facegate')
  .description('edge video stream processor for face-based access control')
  .version('0.1.0')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

registerDetectCommand(program);
registerModelsCommand(program);
registerEvalCommand(program);
registerCamerasCommand(program);
registerEnrollCommand(program);
registerIdentitiesCommand(program, { defaultDb: DEFAULT_GALLERY_DB() });
registerGalleryCommand(program, { defaultDb: DEFAULT_GALLERY_DB() });
registerConfigCommand(program);
registerRunCommands(program);
registerHubCommand(program);
registerDoctorCommand(program);

program
  .command('bench')
  .description('benchmarks (same as `npm run bench -- NAME`)')
  .argument('<name>', 'detect | ingest | gallery | e2e')
  .argument('[args...]', 'options passed to the benchmark')
  .allowUnknownOption()
  .action(async (name: string, args: string[]) => {
    const { runBench } = await import('../../bench/registry.ts');
    await runBench(name, args);
  });

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    // commander already printed its message (usage errors, --help, --version).
    process.exitCode = e.exitCode;
  } else {
    process.stderr.write(`error: ${describeError(e)}\n`);
    process.exitCode = 1;
  }
}

import { Command, CommanderError } from 'commander';
import { describeError } from './common.ts';
import { registerDetectCommand } from './detect.ts';
import { registerModelsCommand } from './models.ts';
import { registerEvalCommand } from './eval.ts';
import { registerCamerasCommand } from './cameras.ts';
import { registerEnrollCommand } from './enroll.ts';

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

program
  .command('bench')
  .description('benchmarks (same as `npm run bench -- NAME`)')
  .argument('<name>', 'detect')
  .argument('[args...]', 'options passed to the benchmark')
  .allowUnknownOption()
  .action(async (name: string, args: string[]) => {
    if (name !== 'detect') throw new Error(`unknown benchmark "${name}" (known: detect)`);
    const { runDetectBench } = await import('../../bench/detect.ts');
    await runDetectBench(args);
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

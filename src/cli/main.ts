import { Command, CommanderError } from 'commander';
import { describeError, refuseBadArguments } from './common.ts';
const program = new Command('facegate')
  .description('edge video stream processor for face-based access control')
  .version('0.1.0')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

type Registrar = (program: Command) => void;

/**
 * Which module registers each top-level command. Only the module a command line names is loaded:
 * the others pull in ONNX Runtime, sharp, SQLite, MQTT, NATS, PostgreSQL... (`npm run bench --
 * startup` measures it). Help, --version and unknown commands load all.
 */
const COMMAND_MODULES: readonly { readonly commands: readonly string[]; readonly load: () => Promise<Registrar> }[] = [
  { commands: ['detect'], load: async () => (await import('./detect.ts')).registerDetectCommand },
  { commands: ['models'], load: async () => (await import('./models.ts')).registerModelsCommand },
  { commands: ['eval'], load: async () => (await import('./eval.ts')).registerEvalCommand },
  { commands: ['cameras'], load: async () => (await import('./cameras.ts')).registerCamerasCommand },
  { commands: ['enroll'], load: async () => (await import('./enroll.ts')).registerEnrollCommand },
  {
    commands: ['identities'],
    load: async () => {
      const [{ registerIdentitiesCommand }, { DEFAULT_GALLERY_DB }] = await Promise.all([import('./identities.ts'), import('./enroll.ts')]);
      return (p) => registerIdentitiesCommand(p, { defaultDb: DEFAULT_GALLERY_DB() });
    },
  },
  {
    commands: ['gallery'],
    load: async () => {
      const [{ registerGalleryCommand }, { DEFAULT_GALLERY_DB }] = await Promise.all([import('./gallery.ts'), import('./enroll.ts')]);
      return (p) => registerGalleryCommand(p, { defaultDb: DEFAULT_GALLERY_DB() });
    },
  },
  { commands: ['config'], load: async () => (await import('../config/cli.ts')).registerConfigCommand },
  { commands: ['run', 'demo', 'watch'], load: async () => (await import('./run.ts')).registerRunCommands },
  { commands: ['hub', 'hub-identities'], load: async () => (await import('./hub.ts')).registerHubCommand },
  { commands: ['doctor'], load: async () => (await import('./doctor.ts')).registerDoctorCommand },
  { commands: ['keys'], load: async () => (await import('./keys.ts')).registerKeysCommand },
  { commands: ['report'], load: async () => (await import('./report.ts')).registerReportCommand },
  // Options on commands registered above (`enroll --hub`, `demo --fleet`): after them.
  { commands: ['enroll', 'demo'], load: async () => (await import('./hub.ts')).registerFleetOptions },
];

try {
  refuseBadArguments(process.argv.slice(2));
} catch (e) {
  process.stderr.write(`error: ${describeError(e)}\n`);
  process.exit(1);
}

// The first word that is not an option names the command (facegate has no global options with values).
const named = process.argv.slice(2).find((a) => !a.startsWith('-'));
const chosen = COMMAND_MODULES.filter((m) => named !== undefined && m.commands.includes(named));
for (const m of chosen.length ? chosen : COMMAND_MODULES) (await m.load())(program);

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

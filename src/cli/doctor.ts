import type { Command } from 'commander';
import { doctor, formatDoctor } from '../app/doctor.ts';
import { DEFAULT_PROFILE_PATH } from '../detect/index.ts';

export function registerDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description('what this machine can run: execution providers tried for real, Vulkan devices, CUDA libraries, GStreamer decoders, detector tier per time budget')
    .option('--json', 'print the report as one JSON object')
    .option('--profile <file>', 'detector timing profile', DEFAULT_PROFILE_PATH)
    .action(async (opts: { json?: boolean; profile: string }) => {
      const report = await doctor({ profilePath: opts.profile });
      process.stdout.write(opts.json ? `${JSON.stringify(report)}\n` : `${formatDoctor(report)}\n`);
    });
}

/**
 * `facegate config ...`: check a file (every problem with its path and fix), print the JSON
 * Schema for editors, hash an API token for `auth.tokens`.
 */
import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { redactText } from '../redact.ts';
import { hashToken } from './auth.ts';
import { isConfigError } from './errors.ts';
import { configWarnings, loadConfig } from './parse.ts';
import { configJsonSchema } from './schema.ts';

export interface ConfigCommandIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  /** The whole of standard input (hash-token without an argument). */
  readonly readStdin: () => Promise<string>;
  /** Whether stdin is a terminal (then hash-token will not wait on it). */
  readonly stdinIsTty: () => boolean;
}

const defaultIo: ConfigCommandIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  readStdin: async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  },
  stdinIsTty: () => process.stdin.isTTY === true,
};

export function registerConfigCommand(program: Command, io: ConfigCommandIo = defaultIo): Command {
  const config = program.command('config').description('check a configuration file, print its JSON Schema, hash API tokens');

  config
    .command('check')
    .description('validate a YAML config file: prints OK, or every problem with its path and a fix (exit 1)')
    .argument('<file>', 'the YAML config file')
    .action((file: string) => {
      // Nothing from the file is meant to reach these lines but names and numbers; redacting
      // them all the same keeps a credential that slips into one off the terminal and CI logs.
      const out = (line: string): void => io.out(redactText(line));
      const err = (line: string): void => io.err(redactText(line));
      try {
        const cfg = loadConfig(file);
        out(`OK ${file}: ${cfg.cameras.length} camera${cfg.cameras.length === 1 ? '' : 's'}, ${cfg.gates.length} gate${cfg.gates.length === 1 ? '' : 's'}, API on ${cfg.server.bind}:${cfg.server.port}${cfg.auth.enabled ? '' : ' (auth off)'}`);
        for (const w of configWarnings(cfg)) err(`warning: ${w}`);
      } catch (e) {
        if (!isConfigError(e)) throw e;
        err(e.describe());
        process.exitCode = 1;
      }
    });

  config
    .command('schema')
    .description('print the JSON Schema of the config file (for editor completion and validation)')
    .action(() => {
      io.out(JSON.stringify(configJsonSchema(), null, 2));
    });

  config
    .command('hash-token')
    .description('print the sha256 of an API token, for auth.tokens[].sha256 (the token itself is never stored)')
    .argument('[token]', 'the token; omit it to read it from stdin (keeps it out of shell history)')
    .option('--generate', 'make a new random token and print it with its hash')
    .action(async (token: string | undefined, o: { generate?: boolean }) => {
      if (o.generate) {
        if (token !== undefined) {
          io.err('give a token or --generate, not both');
          process.exitCode = 1;
          return;
        }
        const fresh = randomBytes(32).toString('base64url');
        io.out(`token:  ${fresh}`);
        io.out(`sha256: ${hashToken(fresh)}`);
        io.err('give the token to its holder; put only the sha256 into auth.tokens');
        return;
      }
      let t = token;
      if (t === undefined) {
        if (io.stdinIsTty()) {
          io.err('give the token as an argument, pipe it on stdin, or use --generate');
          process.exitCode = 1;
          return;
        }
        t = (await io.readStdin()).replace(/\r?\n$/, '');
      }
      if (t.length === 0) {
        io.err('the token is empty');
        process.exitCode = 1;
        return;
      }
      if (t.length < 16) io.err('warning: short token; use at least 16 random characters (`facegate config hash-token --generate`)');
      io.out(hashToken(t));
    });

  return config;
}

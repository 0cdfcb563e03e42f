#!/usr/bin/env node
// facegate is TypeScript run directly: register tsx's ESM loader, then load the CLI source.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');

// A small flag parser for the CLI: --name value, --name=value and boolean flags, with errors
// that name the command and the flag.
import { fail } from '../errors.js';

export type FlagKind = 'int' | 'number' | 'string' | 'flag';

export interface ParsedArgs {
  flags: Record<string, number | string | boolean | undefined>;
  positional: string[];
}

export function parseArgs(command: string, argv: string[], spec: Record<string, FlagKind>): ParsedArgs {
  const out: ParsedArgs = { flags: {}, positional: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) {
      out.positional.push(arg);
      continue;
    }
    const [key, inline] = arg.slice(2).split(/=(.*)/s, 2);
    const kind = spec[key];
    if (!kind) fail(command, `unknown option --${key} (known: ${Object.keys(spec).map((k) => `--${k}`).join(', ')})`);
    if (kind === 'flag') {
      out.flags[key] = true;
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined) fail(command, `--${key} needs a value`);
    if (kind === 'string') out.flags[key] = value;
    else {
      const n = Number(value);
      if (!Number.isFinite(n) || (kind === 'int' && (!Number.isInteger(n) || n < 1))) fail(command, `--${key} must be ${kind === 'int' ? 'a positive integer' : 'a number'}, got "${value}"`);
      out.flags[key] = n;
    }
  }
  return out;
}

// A `lathe` command that serves (serve, ui) started as a child process: resolves once it has
// printed its first JSON line ({"listening": ...}), or rejects with its stderr if it exits first.
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';

export const LATHE_BIN = path.resolve(import.meta.dirname, '..', '..', 'bin', 'lathe.js');

export interface ListeningProcess {
  child: ChildProcess;
  /** The first line it printed, parsed. */
  info: Record<string, any>;
  exited: Promise<number | null>;
  stderr(): string;
}

export async function startListening(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<ListeningProcess> {
  const child = spawn(process.execPath, [LATHE_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let stderr = '';
  child.stderr!.on('data', (c) => (stderr += c));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c) => {
      out += c;
      if (out.includes('\n')) resolve(out.split('\n')[0]);
    });
    child.once('exit', (code) => reject(new Error(`lathe ${args[0]} exited ${code} before listening: ${stderr}`)));
  });
  return { child, info: JSON.parse(line), exited, stderr: () => stderr };
}

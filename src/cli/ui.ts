// `lathe ui [--runs runs/] [--port 6006] [--host 127.0.0.1]`: the web dashboard of a runs
// folder (src/dashboard). Prints {"listening": URL} once ready; stops on SIGINT or SIGTERM.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startDashboardServer } from '../dashboard/server.js';
import { fail } from '../errors.js';
import { parseArgs } from './args.js';

const USAGE = 'Usage: lathe ui [--runs runs/] [--port 6006] [--host 127.0.0.1]';

export async function uiCommand(argv: string[]): Promise<number> {
  const { flags, positional } = parseArgs('ui', argv, { runs: 'string', port: 'number', host: 'string' });
  if (positional.length !== 0) fail('ui', `unexpected argument "${positional[0]}". ${USAGE}`);
  const runsDir = path.resolve((flags.runs as string | undefined) ?? 'runs');
  if (!fs.existsSync(runsDir) || !fs.statSync(runsDir).isDirectory()) fail('ui', `--runs ${runsDir}: no such folder (lathe train writes its runs under runs/)`);
  // TensorBoard's port, since that is where its users look.
  const port = (flags.port as number | undefined) ?? 6006;
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail('ui', `--port must be an integer from 0 to 65535, got ${port}`);
  const host = (flags.host as string | undefined) ?? '127.0.0.1';
  const server = await startDashboardServer({ runsDir, host, port }).catch((e: NodeJS.ErrnoException) =>
    fail('ui', e.code === 'EADDRINUSE' ? `port ${port} on ${host} is in use; pass --port N (0 picks a free one)` : e.message),
  );
  console.log(JSON.stringify({ listening: server.url, runs: runsDir }));
  if (host !== '127.0.0.1' && host !== 'localhost' && host !== '::1') console.error(`lathe ui: listening on ${host}: anyone who can reach it can read the runs folder's metrics and images`);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  await server.close();
  return 0;
}

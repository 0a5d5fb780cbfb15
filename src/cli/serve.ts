// `lathe serve --model-repository DIR`: the TF Serving and KServe v2 HTTP APIs over a model
// repository (src/serve). Prints {"listening": URL} on stdout once ready, logs JSON lines on
// stderr, and on SIGTERM or SIGINT stops accepting, finishes in-flight requests and exits 0.
import { fail } from '../errors.js';
import { DEFAULT_MAX_REQUEST_BYTES, startServer } from '../serve/http/server.js';
import { parseArgs } from './args.js';

const USAGE = 'Usage: lathe serve --model-repository DIR [--host 127.0.0.1] [--port 8501] [--max-request-bytes N] [--poll-seconds S] [--access-log]';

export async function serveCommand(argv: string[]): Promise<number> {
  const { flags, positional } = parseArgs('serve', argv, { 'model-repository': 'string', host: 'string', port: 'number', 'max-request-bytes': 'int', 'poll-seconds': 'number', 'access-log': 'flag' });
  if (positional.length !== 0 || typeof flags['model-repository'] !== 'string') fail('serve', USAGE);
  const port = (flags.port as number | undefined) ?? 8501;
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail('serve', `--port must be an integer from 0 to 65535, got ${port}`);
  const poll = flags['poll-seconds'] as number | undefined;
  if (poll !== undefined && !(poll >= 0)) fail('serve', `--poll-seconds must be a number >= 0 (0: never), got ${poll}`);
  const accessLog = flags['access-log'] === true;
  const log = (line: Record<string, unknown>) => {
    if (line.event !== 'request' || accessLog) process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), ...line })}\n`);
  };
  const running = await startServer({
    repository: flags['model-repository'],
    host: (flags.host as string | undefined) ?? '127.0.0.1',
    port,
    maxRequestBytes: (flags['max-request-bytes'] as number | undefined) ?? DEFAULT_MAX_REQUEST_BYTES,
    // New version folders are picked up every 2 s by default, as TF Serving polls its file system.
    pollSeconds: (flags['poll-seconds'] as number | undefined) ?? 2,
    log,
  });
  for (const w of running.repository.warnings) log({ event: 'warning', message: w });
  console.log(JSON.stringify({ listening: running.url }));
  const signal = await new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  log({ event: 'shutdown', signal });
  await running.close();
  return 0;
}

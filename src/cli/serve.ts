// `lathe serve --model-repository DIR`: the TF Serving and KServe v2 HTTP APIs over a model
// repository (src/serve), and OpenAI's completions API for its GPT models. Prints {"listening": URL} on stdout once ready, logs JSON lines on
// stderr, and on SIGTERM or SIGINT stops accepting, finishes in-flight requests and exits 0.
import * as fs from 'node:fs';
import { fail } from '../errors.js';
import { MIN_TOKEN_LENGTH } from '../serve/http/management.js';
import { DEFAULT_MAX_REQUEST_BYTES, startServer } from '../serve/http/server.js';
import { parseArgs } from './args.js';

const USAGE = 'Usage: lathe serve --model-repository DIR [--host 127.0.0.1] [--port 8501] [--max-request-bytes N] [--poll-seconds S] [--request-timeout-ms MS] [--management-token-file FILE] [--api-key KEY | --api-key-file FILE] [--access-log] [--ui [--runs DIR]]';

/**
 * The management token: from a file (--management-token-file) or LATHE_MANAGEMENT_TOKEN, so it
 * never shows in `ps`; --management-token works but warns for that reason. Undefined: the API is off.
 */
function managementToken(flags: Record<string, unknown>, warn: (message: string) => void): string | undefined {
  const sources = [flags['management-token-file'] !== undefined, flags['management-token'] !== undefined, process.env.LATHE_MANAGEMENT_TOKEN !== undefined].filter(Boolean).length;
  if (sources > 1) fail('serve', 'give the management token one way: --management-token-file FILE, LATHE_MANAGEMENT_TOKEN, or --management-token');
  let token: string | undefined;
  let where = '';
  if (typeof flags['management-token-file'] === 'string') {
    const file = flags['management-token-file'];
    where = `--management-token-file ${file}`;
    try {
      const st = fs.statSync(file);
      // Like ssh with a private key: a token others can read is not a secret, but only warn.
      if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) warn(`${file} can be read by other users (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`);
      token = fs.readFileSync(file, 'utf8').trim();
    } catch (e) {
      fail('serve', `${where}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  } else if (typeof flags['management-token'] === 'string') {
    warn('--management-token puts the token on the command line, where ps and shell history show it; use --management-token-file FILE or LATHE_MANAGEMENT_TOKEN');
    token = flags['management-token'].trim();
    where = '--management-token';
  } else if (process.env.LATHE_MANAGEMENT_TOKEN !== undefined) {
    token = process.env.LATHE_MANAGEMENT_TOKEN.trim();
    where = 'LATHE_MANAGEMENT_TOKEN';
  }
  if (token === undefined) return undefined;
  if (token.length < MIN_TOKEN_LENGTH || /\s/.test(token)) fail('serve', `${where}: the management token must be at least ${MIN_TOKEN_LENGTH} characters without spaces (e.g. openssl rand -hex 32 > token && chmod 600 token); got ${token.length} characters`);
  return token;
}

/**
 * The API key every route then needs: --api-key-file FILE, LATHE_API_KEY, or --api-key (which ps
 * shows, so it warns). Undefined: no route is guarded.
 */
function apiKey(flags: Record<string, unknown>, warn: (message: string) => void): string | undefined {
  const sources = [flags['api-key-file'] !== undefined, flags['api-key'] !== undefined, process.env.LATHE_API_KEY !== undefined].filter(Boolean).length;
  if (sources > 1) fail('serve', 'give the API key one way: --api-key-file FILE, LATHE_API_KEY, or --api-key');
  let key: string | undefined;
  let where = '';
  if (typeof flags['api-key-file'] === 'string') {
    where = `--api-key-file ${flags['api-key-file']}`;
    try {
      key = fs.readFileSync(flags['api-key-file'], 'utf8').trim();
    } catch (e) {
      fail('serve', `${where}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  } else if (typeof flags['api-key'] === 'string') {
    warn('--api-key puts the key on the command line, where ps and shell history show it; use --api-key-file FILE or LATHE_API_KEY');
    key = flags['api-key'].trim();
    where = '--api-key';
  } else if (process.env.LATHE_API_KEY !== undefined) {
    key = process.env.LATHE_API_KEY.trim();
    where = 'LATHE_API_KEY';
  }
  if (key === undefined) return undefined;
  if (key.length < MIN_TOKEN_LENGTH || /\s/.test(key)) fail('serve', `${where}: the API key must be at least ${MIN_TOKEN_LENGTH} characters without spaces (e.g. openssl rand -hex 32); got ${key.length} characters`);
  return key;
}

export async function serveCommand(argv: string[]): Promise<number> {
  const { flags, positional } = parseArgs('serve', argv, {
    'model-repository': 'string', host: 'string', port: 'number', 'max-request-bytes': 'int', 'poll-seconds': 'number', 'access-log': 'flag',
    'request-timeout-ms': 'number', 'management-token-file': 'string', 'management-token': 'string', ui: 'flag', runs: 'string',
    'api-key': 'string', 'api-key-file': 'string',
  });
  if (positional.length !== 0 || typeof flags['model-repository'] !== 'string') fail('serve', USAGE);
  const port = (flags.port as number | undefined) ?? 8501;
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail('serve', `--port must be an integer from 0 to 65535, got ${port}`);
  const poll = flags['poll-seconds'] as number | undefined;
  if (poll !== undefined && !(poll >= 0)) fail('serve', `--poll-seconds must be a number >= 0 (0: never), got ${poll}`);
  const timeoutMs = flags['request-timeout-ms'] as number | undefined;
  if (timeoutMs !== undefined && !(timeoutMs > 0 && Number.isFinite(timeoutMs))) fail('serve', `--request-timeout-ms must be a number > 0, got ${timeoutMs}`);
  const ui = flags.ui === true;
  const runsDir = flags.runs as string | undefined;
  if (runsDir !== undefined && !ui) fail('serve', '--runs DIR shows runs in the dashboard: it needs --ui');
  if (runsDir !== undefined && !(fs.existsSync(runsDir) && fs.statSync(runsDir).isDirectory())) fail('serve', `--runs ${runsDir}: no such folder`);
  const accessLog = flags['access-log'] === true;
  const log = (line: Record<string, unknown>) => {
    if (line.event !== 'request' || accessLog) process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), ...line })}\n`);
  };
  const token = managementToken(flags, (message) => log({ event: 'warning', message }));
  const host = (flags.host as string | undefined) ?? '127.0.0.1';
  const key = apiKey(flags, (message) => log({ event: 'warning', message }));
  if (key !== undefined) log({ event: 'api_key', enabled: true, message: 'every route needs "Authorization: Bearer <API key>"' });
  if (token !== undefined) {
    const loopback = host === '127.0.0.1' || host === '::1' || host === 'localhost';
    log({ event: 'management', enabled: true, ...(loopback ? {} : { warning: `the model repository API is reachable on ${host} over plain HTTP: put a TLS proxy in front so the token is not sent in clear` }) });
  }
  const running = await startServer({
    repository: flags['model-repository'],
    host,
    port,
    maxRequestBytes: (flags['max-request-bytes'] as number | undefined) ?? DEFAULT_MAX_REQUEST_BYTES,
    // New version folders are picked up every 2 s by default, as TF Serving polls its file system.
    pollSeconds: (flags['poll-seconds'] as number | undefined) ?? 2,
    log,
    requestTimeoutMs: timeoutMs,
    managementToken: token,
    apiKey: key,
    ...(ui ? { ui: { runsDir } } : {}),
  });
  for (const w of running.repository.warnings) log({ event: 'warning', message: w });
  console.log(JSON.stringify({ listening: running.url, ...(ui ? { ui: `${running.url}/ui/` } : {}) }));
  const signal = await new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  log({ event: 'shutdown', signal });
  await running.close();
  return 0;
}

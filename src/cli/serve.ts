// `lathe serve --model-repository DIR`: the TF Serving and KServe v2 HTTP APIs over a model
// repository (src/serve), and OpenAI's completions API for its GPT models. Prints {"listening": URL} on stdout once ready, logs JSON lines on
// stderr, and on SIGTERM or SIGINT stops accepting, finishes in-flight requests and exits 0.
import * as fs from 'node:fs';
import { fail } from '../errors.js';
import { MIN_TOKEN_LENGTH } from '../serve/http/management.js';
import { DEFAULT_MAX_REQUEST_BYTES, startServer } from '../serve/http/server.js';
import { parseArgs } from './args.js';

const USAGE = 'Usage: lathe serve --model-repository DIR [--host 127.0.0.1] [--port 8501] [--max-request-bytes N] [--poll-seconds S] [--request-timeout-ms MS] [--management-token-file FILE] [--api-key KEY | --api-key-file FILE] [--access-log] [--ui [--runs DIR]]';

/** Where a secret may come from: a file, an environment variable, or (shown by ps, so it warns) a flag. */
interface SecretSource {
  what: string; // "management token", "API key"
  noun: string; // "token", "key"
  file: string; // the flag naming a file
  flag: string; // the flag holding the value
  env: string;
  example: string;
  /** Warn when the file can be read by other users (as ssh does for a private key). */
  checkMode?: boolean;
}

/** The secret from the one source given, at least MIN_TOKEN_LENGTH characters without spaces; undefined when none is. */
function readSecret(flags: Record<string, unknown>, s: SecretSource, warn: (message: string) => void): string | undefined {
  const ways = `--${s.file} FILE, ${s.env}, or --${s.flag}`;
  const sources = [flags[s.file] !== undefined, flags[s.flag] !== undefined, process.env[s.env] !== undefined].filter(Boolean).length;
  if (sources > 1) fail('serve', `give the ${s.what} one way: ${ways}`);
  let value: string | undefined;
  let where = '';
  const file = flags[s.file];
  if (typeof file === 'string') {
    where = `--${s.file} ${file}`;
    try {
      const st = fs.statSync(file);
      if (s.checkMode && process.platform !== 'win32' && (st.mode & 0o077) !== 0) warn(`${file} can be read by other users (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`);
      value = fs.readFileSync(file, 'utf8').trim();
    } catch (e) {
      fail('serve', `${where}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  } else if (typeof flags[s.flag] === 'string') {
    warn(`--${s.flag} puts the ${s.noun} on the command line, where ps and shell history show it; use --${s.file} FILE or ${s.env}`);
    value = (flags[s.flag] as string).trim();
    where = `--${s.flag}`;
  } else if (process.env[s.env] !== undefined) {
    value = process.env[s.env]!.trim();
    where = s.env;
  }
  if (value === undefined) return undefined;
  if (value.length < MIN_TOKEN_LENGTH || /\s/.test(value)) fail('serve', `${where}: the ${s.what} must be at least ${MIN_TOKEN_LENGTH} characters without spaces (e.g. ${s.example}); got ${value.length} characters`);
  return value;
}

/** The management token; undefined: the management API is off. */
const MANAGEMENT_TOKEN: SecretSource = { what: 'management token', noun: 'token', file: 'management-token-file', flag: 'management-token', env: 'LATHE_MANAGEMENT_TOKEN', example: 'openssl rand -hex 32 > token && chmod 600 token', checkMode: true };
/** The API key every route then needs; undefined: no route is guarded. */
const API_KEY: SecretSource = { what: 'API key', noun: 'key', file: 'api-key-file', flag: 'api-key', env: 'LATHE_API_KEY', example: 'openssl rand -hex 32' };

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
  const token = readSecret(flags, MANAGEMENT_TOKEN, (message) => log({ event: 'warning', message }));
  const host = (flags.host as string | undefined) ?? '127.0.0.1';
  const key = readSecret(flags, API_KEY, (message) => log({ event: 'warning', message }));
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

// Triton/KServe's model-repository extension on the serving port: POST /v2/repository/index,
// /v2/repository/models/{m}/load and /unload. Off unless a token is configured, and then only
// with "Authorization: Bearer <token>": the opposite of TorchServe's ShellTorch chain (an open
// management API fetching model URLs). A request only names a model folder already in the
// repository; nothing in it is a path, a URL or a config.
import { createHash, timingSafeEqual } from 'node:crypto';
import { isValidName, type ModelRepository } from '../repository.js';
import { badRequest, HttpError, notFound } from './routing.js';

/** Shorter tokens are refused: a bearer token is the only thing between the network and unload. */
export const MIN_TOKEN_LENGTH = 16;

export const HOW_TO_ENABLE = 'start lathe serve with --management-token-file FILE (or the environment variable LATHE_MANAGEMENT_TOKEN) to enable it, and send "Authorization: Bearer <token>"';

const sha256 = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** Checks bearer tokens in constant time: both sides are hashed to 32 bytes, so neither the content nor the length leaks. */
export class ManagementAuth {
  private readonly digest: Buffer;

  constructor(token: string) {
    if (token.length < MIN_TOKEN_LENGTH) throw new Error(`the management token must be at least ${MIN_TOKEN_LENGTH} characters (e.g. openssl rand -hex 32), got ${token.length}`);
    this.digest = sha256(token);
  }

  /** Throws 401 with WWW-Authenticate unless `header` is "Bearer <the token>". The message never echoes what was sent. */
  check(header: string | undefined): void {
    const m = /^Bearer +([^\s]+) *$/i.exec(header ?? '');
    if (!m) throw new HttpError(401, 'the model repository API needs "Authorization: Bearer <token>"', { 'www-authenticate': 'Bearer realm="lathe"' });
    if (!timingSafeEqual(sha256(m[1]), this.digest)) throw new HttpError(401, 'the bearer token is not valid', { 'www-authenticate': 'Bearer realm="lathe", error="invalid_token"' });
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A model name from the URL that must be a folder of the repository. */
function modelFolder(repo: ModelRepository, name: string): string {
  if (!isValidName(name)) throw badRequest(`model name ${JSON.stringify(name.slice(0, 80))} is not valid: names match [A-Za-z0-9._-]+ and are not "." or ".."`);
  if (!repo.hasModelFolder(name)) throw notFound(`model "${name}" is not a folder of the model repository`);
  return name;
}

/** Load and unload take no parameters: Triton's "config" and "file:" overrides would let a request write models. */
function checkNoParameters(body: unknown, verb: string): void {
  if (body === undefined) return;
  if (!isObject(body)) throw badRequest(`the ${verb} body must be a JSON object (or empty)`);
  const keys = Object.keys(body);
  if (keys.length > 0) throw badRequest(`${verb} takes no parameters (got ${JSON.stringify(keys.slice(0, 5))}): it reads the model's folder and config.json from the repository`);
}

/** POST /v2/repository/index: every model folder and loaded version, with Triton's state and reason. */
export function repositoryIndex(repo: ModelRepository, body: unknown): unknown {
  if (body !== undefined && !isObject(body)) throw badRequest('the index body must be a JSON object like {"ready": true} (or empty)');
  const ready = isObject(body) ? body.ready : undefined;
  if (ready !== undefined && typeof ready !== 'boolean') throw badRequest(`"ready" must be true or false, got ${JSON.stringify(ready)?.slice(0, 40)}`);
  const entries = repo.index();
  return ready ? entries.filter((e) => e.state === 'READY') : entries;
}

/** POST /v2/repository/models/{m}/load: (re)loads the model; old versions serve until the new ones are AVAILABLE. */
export async function repositoryLoad(repo: ModelRepository, name: string, body: unknown, onChange: () => void): Promise<unknown> {
  modelFolder(repo, name);
  checkNoParameters(body, 'load');
  try {
    return await repo.loadModel(name);
  } finally {
    onChange();
  }
}

/** POST /v2/repository/models/{m}/unload: drains the model's requests, then drops it (404 after). */
export async function repositoryUnload(repo: ModelRepository, name: string, body: unknown, onChange: () => void): Promise<unknown> {
  modelFolder(repo, name);
  checkNoParameters(body, 'unload');
  await repo.unloadModel(name);
  onChange();
  return repo.index().filter((e) => e.name === name);
}

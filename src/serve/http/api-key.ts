// The optional API key of `lathe serve --api-key`: when set, every route (the model APIs, the
// OpenAI routes, /metrics, health, the dashboard) needs "Authorization: Bearer <key>". Compared in
// constant time as the management token is: both sides hashed to 32 bytes, so neither the key's
// content nor its length leaks through timing. The management token also passes, so the
// repository API keeps working with its own token when both are set.
import { createHash, timingSafeEqual } from 'node:crypto';
import { MIN_TOKEN_LENGTH } from './management.js';
import { HttpError } from './routing.js';

const sha256 = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

export class ApiKeyAuth {
  private readonly digests: Buffer[];

  constructor(key: string, alsoAccepted: (string | undefined)[] = []) {
    if (key.length < MIN_TOKEN_LENGTH || /\s/.test(key)) throw new Error(`the API key must be at least ${MIN_TOKEN_LENGTH} characters without spaces (e.g. openssl rand -hex 32), got ${key.length} characters`);
    this.digests = [key, ...alsoAccepted.filter((k): k is string => k !== undefined)].map(sha256);
  }

  allows(header: string | undefined): boolean {
    const m = /^Bearer +([^\s]+) *$/i.exec(header ?? '');
    if (!m) return false;
    const got = sha256(m[1]);
    // Every digest is compared, so the time does not say which one matched.
    return this.digests.reduce((ok, d) => timingSafeEqual(got, d) || ok, false);
  }

  /** The 401 for a request without the key; the message never echoes what was sent. */
  static rejection(header: string | undefined): HttpError {
    return header
      ? new HttpError(401, 'Incorrect API key provided: send "Authorization: Bearer <API key>" with the key the server was started with', { 'www-authenticate': 'Bearer realm="lathe", error="invalid_token"' })
      : new HttpError(401, 'You did not provide an API key: this server needs "Authorization: Bearer <API key>"', { 'www-authenticate': 'Bearer realm="lathe"' });
  }
}

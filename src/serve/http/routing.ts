// What both HTTP APIs share: an error that carries its status, and the lookup of a model version
// by name, version or label, with TF Serving's and KServe's status conventions
// (400 bad input, 404 unknown model or version).
import { BatcherError } from '../batcher.js';
import { LatheError } from '../../errors.js';
import { defaultVersion, isValidName, type ModelRepository, parseVersion, type ServableVersion, type ServedModel } from '../repository.js';

export class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
  }
}

export const badRequest = (message: string): HttpError => new HttpError(400, message);
export const notFound = (message: string): HttpError => new HttpError(404, message);

/**
 * The status and message a thrown error answers with. LatheError is a failed check on the
 * request's content (a shape, a value), so 400; anything else is our bug, so 500.
 */
export function errorStatus(e: unknown): { status: number; message: string; headers: Record<string, string> } {
  if (e instanceof HttpError) return { status: e.status, message: e.message, headers: e.headers };
  // Overload and timeouts from the dynamic batcher: 503/504 with Retry-After, 413, as Triton answers.
  if (e instanceof BatcherError) return { status: e.status, message: e.message, headers: e.retryAfterSeconds !== undefined ? { 'retry-after': String(e.retryAfterSeconds) } : {} };
  if (e instanceof LatheError) return { status: 400, message: e.message, headers: {} };
  return { status: 500, message: `internal error: ${(e as Error)?.message ?? String(e)}`, headers: {} };
}

export function findModel(repo: ModelRepository, name: string): ServedModel {
  if (!isValidName(name)) throw badRequest(`model name ${JSON.stringify(name.slice(0, 80))} is not valid: names match [A-Za-z0-9._-]+ and are not "." or ".."`);
  return repo.model(name) ?? (() => { throw notFound(`model "${name}" not found`); })();
}

/** How a URL picks a version: none (the latest available), a number, or a label. */
export interface VersionSelector {
  version?: string;
  label?: string;
}

/** A version in any state (for status), or throws 404. */
export function findVersion(m: ServedModel, sel: VersionSelector): ServableVersion | undefined {
  if (sel.label !== undefined) {
    if (!isValidName(sel.label)) throw badRequest(`label ${JSON.stringify(sel.label.slice(0, 80))} is not valid`);
    const v = m.config.labels.get(sel.label);
    if (v === undefined) throw notFound(`model "${m.name}" has no label "${sel.label}"`);
    return m.versions.get(v);
  }
  if (sel.version !== undefined) {
    const v = parseVersion(sel.version);
    if (v === undefined) throw badRequest(`version ${JSON.stringify(sel.version.slice(0, 40))} is not a positive integer`);
    const sv = m.versions.get(v);
    if (!sv) throw notFound(`model "${m.name}" has no version ${v}`);
    return sv;
  }
  return undefined;
}

/** The version a request runs on: the selected one, which must be AVAILABLE, or the latest available. */
export function servingVersion(repo: ModelRepository, name: string, sel: VersionSelector): ServableVersion {
  const m = findModel(repo, name);
  const sv = findVersion(m, sel) ?? defaultVersion(m);
  if (!sv) {
    // Say why: the newest version's state and load error (a missing runtime package, a bad file).
    const newest = [...m.versions.values()].sort((a, b) => b.version - a.version)[0];
    throw notFound(`model "${name}" has no available version${newest ? ` (version ${newest.version} is ${newest.state}${newest.error ? `: ${newest.error}` : ''})` : ''}`);
  }
  if (sv.state !== 'AVAILABLE') throw notFound(`model "${name}" version ${sv.version} is not available (${sv.state}${sv.error ? `: ${sv.error}` : ''})`);
  return sv;
}

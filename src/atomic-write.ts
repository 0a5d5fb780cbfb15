// Atomic file writes: write a temporary file beside the target, flush it, then rename over the
// target, so a crash (even kill -9) leaves either the old file or the new one, never half of one.
import * as fs from 'node:fs';
import * as path from 'node:path';

export function writeFileAtomic(file: string, data: string | Uint8Array | readonly Uint8Array[]): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${Date.now().toString(36)}`;
  const fd = fs.openSync(tmp, 'w');
  try {
    const chunks = typeof data === 'string' ? [Buffer.from(data, 'utf8')] : data instanceof Uint8Array ? [data] : data;
    for (const chunk of chunks) fs.writeSync(fd, chunk);
    fs.fsyncSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  } finally {
    try { fs.closeSync(fd); } catch { /* already closed on the error path */ }
  }
  fs.renameSync(tmp, file);
}

/**
 * Writes a folder of files as one: into a fresh folder beside `dir`, each file atomically, then
 * swapped in by renames, so a crash leaves the old folder or the new one (a saved model is never
 * half old, half new).
 */
export function writeFolderAtomic(dir: string, files: Record<string, string | Uint8Array | readonly Uint8Array[]>): void {
  const target = path.resolve(dir);
  const stamp = `${process.pid}-${Date.now().toString(36)}`;
  const tmp = `${target}.tmp-${stamp}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  for (const [name, data] of Object.entries(files)) writeFileAtomic(path.join(tmp, name), data);
  const old = `${target}.old-${stamp}`;
  if (fs.existsSync(target)) fs.renameSync(target, old);
  fs.renameSync(tmp, target);
  fs.rmSync(old, { recursive: true, force: true });
}

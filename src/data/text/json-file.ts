// Reading and writing a tokenizer's JSON file: written atomically (a crash leaves the old file or
// the new one), read with errors that name the file.
import * as fs from 'node:fs';
import { writeFileAtomic } from '../../atomic-write.js';
import { fail } from '../../errors.js';

export function readJsonFile(where: string, file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    return fail(where, `${file}: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    return fail(where, `${file}: not valid JSON (${(e as Error).message})`);
  }
}

export function writeJsonFile(file: string, text: string): void {
  writeFileAtomic(file, text.endsWith('\n') ? text : `${text}\n`);
}

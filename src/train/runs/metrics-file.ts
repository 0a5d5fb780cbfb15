// Reading metrics.jsonl: step and epoch lines, tolerant of what a killed run leaves behind (a
// last line cut mid-write, a garbage line where a resumed run appended after a cut). Lines from
// before the "kind" field are still read: "epoch" and no "step" makes an epoch line.
import * as fs from 'node:fs';
import type { EpochRecord, StepRecord } from './run-format.js';

export interface MetricsLog {
  steps: StepRecord[];
  epochs: EpochRecord[];
  /** One per line that was skipped, naming the file and the 1-based line. */
  warnings: string[];
  /** The file ended in a line without its newline that did not parse: a write cut short, or one in progress. */
  cutShort: boolean;
}

/** Reads a metrics.jsonl; a missing file is an empty log. */
export function readMetricsFile(file: string): MetricsLog {
  if (!fs.existsSync(file)) return { steps: [], epochs: [], warnings: [], cutShort: false };
  return parseMetricsText(fs.readFileSync(file, 'utf8'), file);
}

/**
 * Parses metrics.jsonl text. Bad lines are skipped with a warning and reading goes on, so a
 * resumed run's later lines still count. When a resume repeats steps or epochs (the killed
 * process logged part of an epoch that the resumed one ran again), the later lines win.
 */
export function parseMetricsText(text: string, file: string): MetricsLog {
  const log: MetricsLog = { steps: [], epochs: [], warnings: [], cutShort: false };
  const lines = text.split('\n');
  const last = lines.length - 1; // text ending in "\n" leaves an empty last piece
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      value = undefined;
    }
    const record = value === undefined ? null : asRecord(value);
    if (record === null) {
      if (i === last) {
        log.cutShort = true;
        log.warnings.push(`${file}: line ${i + 1} is cut short (the run was probably stopped mid-write); read the lines before it`);
      } else {
        log.warnings.push(`${file}: line ${i + 1} is not a step or epoch record${value === undefined ? ' (not valid JSON)' : ''}; skipped it`);
      }
      return;
    }
    if (record.kind === 'step') keepLatest(log.steps, record as StepRecord, 'step');
    else if (record.kind === 'epoch') keepLatest(log.epochs, record as EpochRecord, 'epoch');
    // other kinds are for later readers
  });
  return log;
}

/** A parsed line as a step or epoch record, or null when it is neither. */
function asRecord(value: unknown): StepRecord | EpochRecord | { kind: string } | null {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return null;
  const o = value as Record<string, unknown>;
  const isNumber = (k: string) => typeof o[k] === 'number' && Number.isFinite(o[k]);
  const kind = o.kind ?? ('step' in o ? 'step' : 'epoch' in o ? 'epoch' : undefined);
  if (kind === 'step') return isNumber('step') && isNumber('loss') ? ({ ...o, kind } as unknown as StepRecord) : null;
  if (kind === 'epoch') return isNumber('epoch') ? ({ ...o, kind } as unknown as EpochRecord) : null;
  return typeof kind === 'string' ? { kind } : null;
}

/** Appends, first dropping earlier records at or after this one's number (a resume ran them again). */
function keepLatest<T extends Record<K, number>, K extends string>(list: T[], record: T, key: K): void {
  while (list.length && list[list.length - 1][key] >= record[key]) list.pop();
  list.push(record);
}

// CSV reading: RFC 4180 plus what real files have (a UTF-8 BOM, CRLF or LF, no final newline,
// blank lines, ';' '\t' '|' delimiters), as a push parser over text or byte chunks so a large
// file streams. Errors name the file, the row (the 1-based line the record starts on, as an
// editor shows it; the header is row 1) and the column.
import * as fs from 'node:fs';
import { fail } from '../../errors.js';

/** The delimiters detection chooses from; on a tie the earlier one wins. */
export const CSV_DELIMITERS = [',', ';', '\t', '|'] as const;
export type CsvDelimiter = (typeof CSV_DELIMITERS)[number];

export interface CsvOptions {
  /** The name errors use; readCsv/readCsvFile default it to the path, otherwise "csv". */
  source?: string;
  /** The field delimiter; when absent it is detected from the header line (outside quotes). */
  delimiter?: CsvDelimiter;
}

/** One data record: its fields (as written, quotes removed) and the line it starts on. */
export interface CsvRecord {
  row: number;
  fields: string[];
  /** The header's names (the same array for every record of a file). */
  header: readonly string[];
}

/** A whole file in memory: the header and every data row, with the line each row starts on. */
export interface CsvTable {
  source: string;
  delimiter: CsvDelimiter;
  header: string[];
  rows: string[][];
  rowNumbers: number[];
}

const QUOTE = 0x22;
const CR = 0x0d;
const LF = 0x0a;
const SPACE = 0x20;
// Parser states: at the start of a field; in an unquoted field; in a quoted field; just after a
// quote inside a quoted field (an escape "" or the closing quote); after the closing quote.
const FIELD_START = 0;
const UNQUOTED = 1;
const QUOTED = 2;
const QUOTE_IN_QUOTED = 3;
const AFTER_QUOTED = 4;

/**
 * Push parser: `push(chunk)` returns the records the chunk completed, `end()` the rest. The first
 * non-blank record is the header. A blank line is skipped; a line holding only "" is a record.
 * A quote inside an unquoted field is kept as a character (5"6 stays 5"6), but text after a
 * closing quote other than spaces is an error, since it means a quote was not escaped.
 */
export class CsvParser {
  readonly source: string;
  delimiter: CsvDelimiter | null;
  header: string[] | null = null;
  private decoder: TextDecoder | null = null;
  private bytes = 0;
  private started = false;
  private pending = ''; // text held back until the header line is complete (delimiter detection)
  private state = FIELD_START;
  private field = '';
  private fields: string[] = [];
  private anyQuoted = false; // so that a line holding "" is a record, not a blank line
  private line = 1;
  private prevCR = false; // a CR just ended a line, so an LF right after it belongs to the same break
  private recordRow = 1;
  private quoteRow = 0;
  private out: CsvRecord[] = [];

  constructor(options: CsvOptions = {}) {
    this.source = options.source ?? 'csv';
    if (options.delimiter !== undefined && !CSV_DELIMITERS.includes(options.delimiter)) {
      fail('csv', `${this.source}: delimiter must be one of ${CSV_DELIMITERS.map((d) => JSON.stringify(d)).join(', ')}, got ${JSON.stringify(options.delimiter)}`);
    }
    this.delimiter = options.delimiter ?? null;
  }

  push(chunk: string | Uint8Array): CsvRecord[] {
    if (typeof chunk === 'string') {
      this.pushText(chunk);
    } else {
      // fatal: a Latin-1 file read as UTF-8 would otherwise turn into U+FFFD silently.
      this.decoder ??= new TextDecoder('utf-8', { fatal: true });
      this.pushText(this.decode(() => this.decoder!.decode(chunk, { stream: true }), chunk.length));
    }
    return this.take();
  }

  end(): CsvRecord[] {
    if (this.decoder) this.pushText(this.decode(() => this.decoder!.decode(), 0));
    if (this.delimiter === null) {
      this.delimiter = detectDelimiter(this.pending, true)!;
      this.scan(this.pending);
      this.pending = '';
    }
    if (this.state === QUOTED) {
      fail('csv', `${this.source}: row ${this.quoteRow}, column ${this.columnName(this.fields.length)}: unterminated quote: the quoted field that opens on this row runs to the end of the file`);
    }
    this.endRecord();
    if (this.header === null) fail('csv', `${this.source}: no header row (the file is empty)`);
    return this.take();
  }

  private pushText(text: string): void {
    if (!this.started && text.length > 0) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // the decoder drops a byte BOM; this is a BOM in string input
    }
    if (this.delimiter === null) {
      this.pending += text;
      const d = detectDelimiter(this.pending, false);
      if (d === null) return;
      this.delimiter = d;
      text = this.pending;
      this.pending = '';
    }
    this.scan(text);
  }

  private decode(run: () => string, length: number): string {
    try {
      const text = run();
      this.bytes += length;
      return text;
    } catch {
      fail('csv', `${this.source}: not valid UTF-8 ${length ? `within bytes ${this.bytes}..${this.bytes + length}` : 'at the end of the file'}; convert the file to UTF-8`);
    }
  }

  private take(): CsvRecord[] {
    const out = this.out;
    this.out = [];
    return out;
  }

  private columnName(index: number): string {
    return this.header && index < this.header.length ? JSON.stringify(this.header[index]) : `${index + 1}`;
  }

  private scan(text: string): void {
    const d = this.delimiter!.charCodeAt(0);
    const n = text.length;
    let i = 0;
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c !== LF) this.prevCR = false;
      switch (this.state) {
        case FIELD_START:
          if (c === QUOTE) {
            this.state = QUOTED;
            this.quoteRow = this.line;
            this.anyQuoted = true;
            i++;
          } else {
            this.state = UNQUOTED;
          }
          break;
        case UNQUOTED: {
          let j = i;
          for (let k = c; j < n && k !== d && k !== CR && k !== LF; k = text.charCodeAt(++j));
          this.field += text.slice(i, j);
          i = j < n ? this.separator(text.charCodeAt(j), j) : j;
          break;
        }
        case QUOTED: {
          const q = text.indexOf('"', i);
          const end = q < 0 ? n : q;
          this.countLines(text, i, end); // embedded newlines still advance the row count
          this.field += text.slice(i, end);
          i = end;
          if (q >= 0) {
            this.state = QUOTE_IN_QUOTED;
            i++;
          }
          break;
        }
        case QUOTE_IN_QUOTED:
          if (c === QUOTE) {
            this.field += '"';
            this.state = QUOTED;
            i++;
          } else {
            this.state = AFTER_QUOTED;
          }
          break;
        default: // AFTER_QUOTED
          if (c === SPACE) i++;
          else if (c === d || c === CR || c === LF) i = this.separator(c, i);
          else fail('csv', `${this.source}: row ${this.line}, column ${this.columnName(this.fields.length)}: ${JSON.stringify(text[i])} after a closing quote (a quote inside a quoted field is written "")`);
      }
    }
  }

  /** Handles a delimiter or line break at text[i]; returns the next index. */
  private separator(c: number, i: number): number {
    if (c === this.delimiter!.charCodeAt(0)) {
      this.fields.push(this.field);
      this.field = '';
      this.state = FIELD_START;
      return i + 1;
    }
    this.endRecord();
    if (c === CR || !this.prevCR) this.line++;
    this.prevCR = c === CR;
    this.recordRow = this.line;
    return i + 1;
  }

  private countLines(text: string, from: number, to: number): void {
    for (let i = from; i < to; i++) {
      const c = text.charCodeAt(i);
      if (c === CR || (c === LF && !this.prevCR)) this.line++;
      this.prevCR = c === CR;
    }
  }

  private endRecord(): void {
    this.fields.push(this.field);
    const fields = this.fields;
    const quoted = this.anyQuoted;
    this.fields = [];
    this.field = '';
    this.anyQuoted = false;
    this.state = FIELD_START;
    if (fields.length === 1 && fields[0] === '' && !quoted) return; // a blank line
    if (this.header === null) {
      this.header = checkHeader(this.source, fields);
      return;
    }
    if (fields.length !== this.header.length) {
      fail('csv', `${this.source}: row ${this.recordRow} has ${fields.length} field${fields.length === 1 ? '' : 's'}, the header has ${this.header.length}`);
    }
    this.out.push({ row: this.recordRow, fields, header: this.header });
  }
}

/** Names are trimmed; an empty name becomes "Unnamed: i" as pandas writes it (an index column); duplicates are refused. */
function checkHeader(source: string, fields: string[]): string[] {
  const header = fields.map((f, i) => f.trim() || `Unnamed: ${i}`);
  const seen = new Set<string>();
  for (const name of header) {
    if (seen.has(name)) fail('csv', `${source}: row 1 (the header) names column ${JSON.stringify(name)} twice`);
    seen.add(name);
  }
  return header;
}

/**
 * The delimiter that occurs most often in the first line outside quotes (a comma when none
 * does: a one-column file). Null while the first line is not complete and `final` is false.
 */
export function detectDelimiter(text: string, final: boolean): CsvDelimiter | null {
  const counts = [0, 0, 0, 0];
  let inQuotes = false;
  let complete = final;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') inQuotes = !inQuotes;
    else if (inQuotes) continue;
    else if (c === '\n' || c === '\r') {
      complete = true;
      break;
    } else {
      const k = CSV_DELIMITERS.indexOf(c as CsvDelimiter);
      if (k >= 0) counts[k]++;
    }
  }
  if (!complete) return null;
  let best = 0;
  for (let k = 1; k < counts.length; k++) if (counts[k] > counts[best]) best = k;
  return CSV_DELIMITERS[best];
}

/** Parses a stream of chunks (fs.createReadStream, fetch bodies, arrays of strings) record by record. */
export async function* parseCsv(chunks: AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array>, options: CsvOptions = {}): AsyncGenerator<CsvRecord> {
  const parser = new CsvParser(options);
  for await (const chunk of chunks) yield* parser.push(chunk);
  yield* parser.end();
}

type Collected = { source: string; rows: string[][]; rowNumbers: number[] };

function collect(records: Iterable<CsvRecord>, table: Collected): void {
  for (const r of records) {
    table.rows.push(r.fields);
    table.rowNumbers.push(r.row);
  }
}

function finish(parser: CsvParser, table: Collected): CsvTable {
  collect(parser.end(), table);
  return { source: table.source, delimiter: parser.delimiter!, header: parser.header!, rows: table.rows, rowNumbers: table.rowNumbers };
}

/** A whole CSV text as a table. */
export function parseCsvText(text: string | Uint8Array, options: CsvOptions = {}): CsvTable {
  const parser = new CsvParser(options);
  const table: Collected = { source: parser.source, rows: [], rowNumbers: [] };
  collect(parser.push(text), table);
  return finish(parser, table);
}

/** Reads a (small) CSV file synchronously. */
export function readCsvFile(path: string, options: CsvOptions = {}): CsvTable {
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(path);
  } catch (e) {
    fail('csv', `${path}: cannot read the file (${(e as Error).message})`);
  }
  return parseCsvText(bytes, { ...options, source: options.source ?? path });
}

/** Reads a CSV file as a stream (64 KiB chunks), so the raw bytes are never all in memory at once. */
export async function readCsv(path: string, options: CsvOptions = {}): Promise<CsvTable> {
  const parser = new CsvParser({ ...options, source: options.source ?? path });
  const table: Collected = { source: parser.source, rows: [], rowNumbers: [] };
  try {
    for await (const chunk of fs.createReadStream(path)) collect(parser.push(chunk as Uint8Array), table);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code) fail('csv', `${path}: cannot read the file (${(e as Error).message})`);
    throw e;
  }
  return finish(parser, table);
}

// The CSV parser: RFC 4180 quoting, embedded newlines, BOM, CRLF, blank lines, delimiter
// detection, streaming in chunks cut anywhere (a CRLF or a UTF-8 character split between two
// chunks), and errors that name the file, the row (the file line) and the column.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { CsvParser, type CsvTable, parseCsv, parseCsvText, readCsv, readCsvFile } from '../../src/data/sources/csv.js';
import { assertThrowsLathe } from '../helpers.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lathe-csv-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
const write = (name: string, text: string | Uint8Array) => {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
};
const parse = (text: string) => parseCsvText(text, { source: 't.csv' });
const body = (t: CsvTable) => ({ header: t.header, rows: t.rows, rowNumbers: t.rowNumbers });

describe('parsing', () => {
  test('quoted fields: "" escapes, delimiters and spaces inside quotes, empty fields', () => {
    const t = parse('name,quote,n\n"Smith, J.","He said ""hi""",1\n"",,2\n" padded ",x"y,3\n');
    assert.deepEqual(t.header, ['name', 'quote', 'n']);
    assert.deepEqual(t.rows, [['Smith, J.', 'He said "hi"', '1'], ['', '', '2'], [' padded ', 'x"y', '3']]);
    assert.deepEqual(t.rowNumbers, [2, 3, 4]);
    assert.equal(t.delimiter, ',');
  });

  test('embedded newlines inside quotes are kept, and later rows keep their file line numbers', () => {
    const t = parse('a,b\n"line 1\nline 2",x\n"crlf\r\ninside",y\nplain,z\n');
    assert.deepEqual(t.rows, [['line 1\nline 2', 'x'], ['crlf\r\ninside', 'y'], ['plain', 'z']]);
    assert.deepEqual(t.rowNumbers, [2, 4, 6]);
  });

  test('CRLF, LF, a bare CR, no final newline and blank lines all give the same table', () => {
    const lf = parse('a,b\n1,2\n3,4');
    assert.deepEqual(lf.rows, [['1', '2'], ['3', '4']]);
    assert.deepEqual(body(parse('a,b\r\n1,2\r\n3,4\r\n')), body(lf));
    assert.deepEqual(body(parse('a,b\r1,2\r3,4\r')), body(lf));
    const blank = parse('\na,b\n\n1,2\r\n\r\n\n3,4\n\n');
    assert.deepEqual(blank.rows, lf.rows);
    assert.deepEqual(blank.rowNumbers, [4, 7], 'rows are file lines, blank lines included');
    // a line holding only "" is a record, not a blank line
    assert.deepEqual(parseCsvText('a\n""\n\nx\n').rows, [[''], ['x']]);
  });

  test('a UTF-8 BOM is dropped, in bytes and in string input, and non-ASCII text survives', () => {
    const text = '"name",city\nZoë,Zürich\n'; // quoted first: a BOM left in place would unquote it
    const fromBytes = parseCsvText(new Uint8Array([0xef, 0xbb, 0xbf, ...Buffer.from(text)]));
    assert.deepEqual(fromBytes.header, ['name', 'city']);
    assert.deepEqual(fromBytes.rows, [['Zoë', 'Zürich']]);
    assert.deepEqual(parseCsvText('\ufeff' + text).header, ['name', 'city']);
    assert.deepEqual(readCsvFile(write('bom.csv', '\ufeff' + text)).header, ['name', 'city']);
  });

  test('the delimiter is detected from the header line, outside quotes', () => {
    assert.equal(parse('a;b;c\n1,5;2;3\n').delimiter, ';');
    assert.deepEqual(parse('a;b;c\n1,5;2;3\n').rows, [['1,5', '2', '3']]);
    assert.equal(parse('a\tb\n1\t2\n').delimiter, '\t');
    assert.equal(parse('a|b|c\n1|2|3').delimiter, '|');
    // the commas inside the quoted name do not count: two semicolons outside quotes win
    const t = parse('"x,y,z";b;c\n1;2;3\n');
    assert.equal(t.delimiter, ';');
    assert.deepEqual(t.header, ['x,y,z', 'b', 'c']);
    assert.equal(parse('single\n1\n2').delimiter, ',', 'one column: no delimiter to see, comma');
    assert.deepEqual(parse('single\n1\n2').rows, [['1'], ['2']]);
    assert.deepEqual(parseCsvText('a,b;c\n1,2;3', { delimiter: ';' }).rows, [['1,2', '3']], 'an explicit delimiter wins');
  });

  test('header names are trimmed, an empty name becomes "Unnamed: i", a name given twice fails', () => {
    assert.deepEqual(parse(',x , y\n0,1,2').header, ['Unnamed: 0', 'x', 'y']);
    assertThrowsLathe(() => parse('a,b,a\n1,2,3'), /t\.csv: row 1 \(the header\) names column "a" twice/);
  });

  test('a header alone is a table with no rows', () => {
    const t = parse('a,b\n');
    assert.deepEqual(t.header, ['a', 'b']);
    assert.deepEqual(t.rows, []);
  });
});

describe('errors name the file, the row and the column', () => {
  test('a ragged row, counted as the file line it starts on', () => {
    const file = write('iris.csv', 'a,b,c\n1,2,3\n\n"x\ny",5,6\n7,8\n');
    assertThrowsLathe(() => readCsvFile(file), /csv: .*iris\.csv: row 6 has 2 fields, the header has 3$/);
    assertThrowsLathe(() => parse('a,b\n1,2,3\n'), /t\.csv: row 2 has 3 fields, the header has 2/);
    assertThrowsLathe(() => parse('a,b\n1,2\n3'), /t\.csv: row 3 has 1 field, the header has 2/);
  });

  test('an unterminated quote names the row where it opened and its column', () => {
    assertThrowsLathe(() => parse('a,b,c\n1,2,3\n4,"never closed,6\n7,8,9\n'), /t\.csv: row 3, column "b": unterminated quote/);
    assertThrowsLathe(() => parse('a,b\n1,"x\n\n\n'), /row 2, column "b": unterminated quote/);
    assertThrowsLathe(() => parse('a,b,c\n"x\ny",1,"open\n'), /row 3, column "c": unterminated quote/);
  });

  test('text after a closing quote (an unescaped quote) fails; spaces there are allowed', () => {
    assertThrowsLathe(() => parse('a,b\n1,"x"y\n'), /t\.csv: row 2, column "b": "y" after a closing quote/);
    assert.deepEqual(parse('a,b\n"x"  ,2\n').rows, [['x', '2']]);
  });

  test('invalid UTF-8, an empty file, and a file that cannot be read', () => {
    assertThrowsLathe(() => parseCsvText(new Uint8Array([0x61, 0x0a, 0xe9, 0x0a]), { source: 'latin1.csv' }), /latin1\.csv: not valid UTF-8/);
    assertThrowsLathe(() => parseCsvText(new Uint8Array([0x61, 0x0a, 0xc3])), /not valid UTF-8 at the end of the file/);
    assertThrowsLathe(() => parse('\n\n'), /t\.csv: no header row \(the file is empty\)/);
    assertThrowsLathe(() => readCsvFile(path.join(dir, 'absent.csv')), /absent\.csv: cannot read the file/);
  });
});

describe('streaming', () => {
  const text = '\ufeffid;note;Zürich\r\n1;"a;b\r\nc";"q""uote"\r\n\r\n2;plain;€\r\n3;"";x';
  const whole = body(parseCsvText(Buffer.from(text)));

  test('the whole text parses as expected', () => {
    assert.deepEqual(whole, {
      header: ['id', 'note', 'Zürich'],
      rows: [['1', 'a;b\r\nc', 'q"uote'], ['2', 'plain', '€'], ['3', '', 'x']],
      rowNumbers: [2, 5, 6],
    });
  });

  test('byte chunks cut at every size give the same records (CRLF and UTF-8 characters split)', async () => {
    const bytes = Buffer.from(text);
    for (let size = 1; size <= 9; size++) {
      const chunks: Uint8Array[] = [];
      for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
      const records = [];
      for await (const r of parseCsv(chunks)) records.push(r);
      assert.deepEqual({ header: records[0].header, rows: records.map((r) => r.fields), rowNumbers: records.map((r) => r.row) }, whole, `chunk size ${size}`);
    }
  });

  test('string chunks through the push API, one character at a time', () => {
    const p = new CsvParser();
    const rows = [...text].flatMap((ch) => p.push(ch)).concat(p.end());
    assert.deepEqual(rows.map((r) => r.fields), whole.rows);
    assert.equal(p.delimiter, ';');
  });

  test('fs.createReadStream and readCsv read a file in small chunks', async () => {
    const file = write('stream.csv', text);
    const rows = [];
    for await (const r of parseCsv(fs.createReadStream(file, { highWaterMark: 5 }))) rows.push(r.fields);
    assert.deepEqual(rows, whole.rows);
    assert.deepEqual(body(await readCsv(file)), whole);
    assert.equal((await readCsv(file)).source, file);
    await assert.rejects(readCsv(write('ragged.csv', 'a,b\n1\n')), /ragged\.csv: row 2 has 1 field/);
  });
});

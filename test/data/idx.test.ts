// The IDX reader and writer: round trips for every element type and rank (0-size dims too), gz
// and plain, byte layouts checked against hand-written big-endian bytes, and every corruption
// case with its exact message.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import * as lt from '../../src/index.js';
import { readIdx, readIdxAsync, readIdxTensor, writeIdx, encodeIdx, type IdxType } from '../../src/data/sources/idx.js';
import { assertThrowsLathe } from '../helpers.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lathe-idx-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
let counter = 0;
const fresh = (name = 'x.idx') => path.join(tmp, `${counter++}-${name}`);
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** The async twin of assertThrowsLathe. */
const rejectsLathe = (p: Promise<unknown>, pattern: RegExp) =>
  assert.rejects(p, (e: unknown) => e instanceof lt.LatheError && pattern.test(e.message));

/** Values that probe each type's edges: extremes, zero, -1, and for floats NaN, +-Infinity, -0, subnormals. */
const EDGES: Record<IdxType, number[]> = {
  uint8: [0, 1, 127, 128, 254, 255],
  int8: [-128, -1, 0, 1, 127, 42],
  int16: [-32768, -1, 0, 255, 256, 32767],
  int32: [-(2 ** 31), -1, 0, 65536, 2 ** 31 - 1, 123456789],
  float32: [NaN, Infinity, -Infinity, -0, 1.401298464324817e-45, 3.4028234663852886e38, 1 / 3],
  float64: [NaN, Infinity, -Infinity, -0, 5e-324, Number.MAX_VALUE, 1 / 3],
};
const ARRAYS = { uint8: Uint8Array, int8: Int8Array, int16: Int16Array, int32: Int32Array, float32: Float32Array, float64: Float64Array };
const LATHE_DTYPE = { uint8: 'uint8', int8: 'int32', int16: 'int32', int32: 'int32', float32: 'float32', float64: 'float64' };
const SHAPES = [[], [0], [7], [2, 3], [2, 0, 3], [3, 1, 2, 2], [1, 1, 1, 1, 1, 5]];

function sameValues(actual: ArrayLike<number>, expected: ArrayLike<number>, label: string) {
  assert.equal(actual.length, expected.length, `${label} length`);
  for (let i = 0; i < expected.length; i++) assert.ok(Object.is(actual[i], expected[i]), `${label} element ${i}: ${actual[i]} vs ${expected[i]}`);
}

describe('IDX round trip', () => {
  for (const type of Object.keys(EDGES) as IdxType[]) {
    for (const shape of SHAPES) {
      for (const gzip of [false, true]) {
        test(`${type} ${JSON.stringify(shape)}${gzip ? ' gz' : ''}`, () => {
          const n = shape.reduce((a, b) => a * b, 1);
          const values = Array.from({ length: n }, (_, i) => EDGES[type][i % EDGES[type].length]);
          const expected = ARRAYS[type].from(values); // float32 rounds 1/3 here, as the file does
          const file = fresh();
          writeIdx(file, { data: expected, shape }, { gzip });
          const raw = fs.readFileSync(file);
          assert.equal(raw[0] === 0x1f && raw[1] === 0x8b, gzip, 'gzip magic');
          const back = readIdx(file);
          assert.equal(back.idxType, type);
          assert.equal(back.dtype, LATHE_DTYPE[type]);
          assert.deepEqual(back.shape, shape);
          sameValues(back.data, expected, `${type} ${shape}`);
          // writing what was read gives the same bytes (int8/int16 keep their type through int32)
          const again = fresh();
          writeIdx(again, back);
          assert.deepEqual(fs.readFileSync(again), gzip ? gunzipSync(raw) : raw);
        });
      }
    }
  }
});

describe('IDX byte layout', () => {
  test('header and big-endian data match hand-written bytes for each type', () => {
    const cases: [IdxType, number[], number[]][] = [
      ['uint8', [1, 255], [0x01, 0xff]],
      ['int8', [-2, 3], [0xfe, 0x03]],
      ['int16', [-2, 258], [0xff, 0xfe, 0x01, 0x02]],
      ['int32', [-2, 0x01020304], [0xff, 0xff, 0xff, 0xfe, 0x01, 0x02, 0x03, 0x04]],
      ['float32', [1, -2], [0x3f, 0x80, 0, 0, 0xc0, 0, 0, 0]],
      ['float64', [1, -2], [0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0xc0, 0, 0, 0, 0, 0, 0, 0]],
    ];
    const codes = { uint8: 0x08, int8: 0x09, int16: 0x0b, int32: 0x0c, float32: 0x0d, float64: 0x0e };
    for (const [type, values, data] of cases) {
      const bytes = [0, 0, codes[type], 2, 0, 0, 0, 1, 0, 0, 0, 2, ...data];
      assert.deepEqual(Array.from(encodeIdx({ data: values, shape: [1, 2], idxType: type })), bytes, type);
      const file = fresh();
      fs.writeFileSync(file, Uint8Array.from(bytes));
      sameValues(readIdx(file).data, values, type);
    }
  });

  test('a rank-3 shape with dimensions over 65535 is stored as big-endian uint32', () => {
    const bytes = encodeIdx({ data: new Uint8Array(70000), shape: [70000, 1, 1] });
    assert.deepEqual(Array.from(bytes.subarray(0, 8)), [0, 0, 8, 3, 0x00, 0x01, 0x11, 0x70]);
  });

  test('typed arrays, tensors and bool tensors pick their type', () => {
    const file = fresh();
    writeIdx(file, new Int16Array([-5, 7]));
    assert.equal(readIdx(file).idxType, 'int16');
    writeIdx(file, lt.tensor([[1.5, -2]], { dtype: 'float32' }));
    assert.deepEqual(readIdx(file), { idxType: 'float32', dtype: 'float32', shape: [1, 2], data: new Float32Array([1.5, -2]) });
    writeIdx(file, lt.tensor([true, false, true], { dtype: 'bool' }));
    assert.deepEqual(readIdx(file), { idxType: 'uint8', dtype: 'uint8', shape: [3], data: new Uint8Array([1, 0, 1]) });
    writeIdx(file, lt.tensor([3, 4], { dtype: 'int32' }), { type: 'int8', gzip: true });
    assert.equal(readIdx(file).idxType, 'int8');
  });

  test('readIdxTensor gives a tensor of the widened dtype; readIdxAsync equals readIdx', async () => {
    const file = fresh();
    writeIdx(file, { data: new Int8Array([-3, 4, 5, 6]), shape: [2, 2] }, { gzip: true });
    const t = readIdxTensor(file);
    assert.equal(t.dtype, 'int32');
    assert.deepEqual(t.toArray(), [[-3, 4], [5, 6]]);
    assert.deepEqual(await readIdxAsync(file), readIdx(file));
  });
});

describe('IDX writer refuses what it cannot store', () => {
  test('out-of-range or fractional values for integer types name the element', () => {
    assertThrowsLathe(() => encodeIdx(lt.tensor([1, 300], { dtype: 'int32' }), { type: 'uint8' }), /^idx: element 1 is 300, which uint8 cannot hold \(integers 0\.\.255\)$/);
    assertThrowsLathe(() => encodeIdx({ data: [-129], shape: [1], idxType: 'int8' }), /^idx: element 0 is -129, which int8 cannot hold \(integers -128\.\.127\)$/);
    assertThrowsLathe(() => encodeIdx({ data: [0, 1.5], shape: [2], idxType: 'int16' }), /^idx: element 1 is 1\.5, which int16 cannot hold/);
    assertThrowsLathe(() => encodeIdx({ data: [NaN], shape: [1], idxType: 'int32' }), /^idx: element 0 is NaN, which int32 cannot hold/);
  });

  test('shape problems', () => {
    assertThrowsLathe(() => encodeIdx({ data: [1, 2, 3], shape: [2, 2] }), /^idx: 3 values do not fill shape \[2,2\] \(4 elements\)$/);
    assertThrowsLathe(() => encodeIdx({ data: [], shape: [0, -1] }), /^idx: shape \[0,-1\]: dimension 1 must be an integer in \[0, 2\^32-1\]$/);
    assertThrowsLathe(() => encodeIdx({ data: [1], shape: new Array(256).fill(1) }), /^idx: rank 256 does not fit IDX's one-byte rank \(at most 255\)$/);
    assertThrowsLathe(() => encodeIdx({ data: [1], shape: [1] }, { type: 'int64' as IdxType }), /^idx: unknown element type "int64"/);
  });

  test('a failed write leaves the old file and no temporary file', () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'atomic-'));
    const file = path.join(dir, 'a.idx');
    writeIdx(file, new Uint8Array([9]));
    assert.throws(() => writeIdx(file, { data: [1, 2, 3], shape: [2, 2] }));
    assert.deepEqual(fs.readdirSync(dir), ['a.idx']);
    assert.deepEqual(readIdx(file).data, new Uint8Array([9]));
    writeIdx(file, new Uint8Array([1, 2]), { gzip: true });
    assert.deepEqual(fs.readdirSync(dir), ['a.idx']);
    assert.deepEqual(readIdx(file).data, new Uint8Array([1, 2]));
  });
});

describe('corrupt or truncated IDX input names the file and the byte', () => {
  const good = encodeIdx({ data: new Uint8Array(24).map((_, i) => i), shape: [2, 3, 4] }); // 16-byte header + 24
  const cases: [string, Uint8Array, string][] = [
    ['empty file', new Uint8Array(0), 'truncated header: 0 bytes, expected at least 4 (magic number)'],
    ['3 bytes', good.subarray(0, 3), 'truncated header: 3 bytes, expected at least 4 (magic number)'],
    ['wrong magic', Uint8Array.from([0x08, 0x03, 0x08, 0x01, 0, 0, 0, 0]), 'not an IDX file: bytes 0-1 are 0x0803, expected 0x0000'],
    ['wrong magic, second byte', Uint8Array.from([0x00, 0x01, 0x08, 0x01, 0, 0, 0, 0]), 'not an IDX file: bytes 0-1 are 0x0001, expected 0x0000'],
    ['text file', new TextEncoder().encode('label,pixel\n1,2\n'), 'not an IDX file: bytes 0-1 are 0x6C61, expected 0x0000'],
    ['unknown type', Uint8Array.from([0, 0, 0x07, 1, 0, 0, 0, 0]), 'unknown element type 0x07 at byte 2, expected one of 0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E'],
    ['truncated dims', good.subarray(0, 10), 'truncated header: rank 3 needs 16 bytes, the file has 10'],
    ['short data', good.subarray(0, good.length - 1), 'data is shorter than the shape says: [2,3,4] uint8 needs 24 bytes from byte 16, found 23'],
    ['no data', good.subarray(0, 16), 'data is shorter than the shape says: [2,3,4] uint8 needs 24 bytes from byte 16, found 0'],
    ['long data', Uint8Array.from([...good, 0]), 'data is longer than the shape says: [2,3,4] uint8 needs 24 bytes from byte 16, found 25'],
    ['float64 short', encodeIdx({ data: [1, 2], shape: [2], idxType: 'float64' }).subarray(0, 20), 'data is shorter than the shape says: [2] float64 needs 16 bytes from byte 8, found 12'],
    ['huge dims', Uint8Array.from([0, 0, 0x0d, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4]), `data is shorter than the shape says: [4294967295,4294967295] float32 needs ${4294967295n ** 2n * 4n} bytes from byte 12, found 4`],
  ];
  for (const [name, bytes, message] of cases) {
    for (const gzip of [false, true]) {
      test(`${name}${gzip ? ' (gz)' : ''}`, async () => {
        const file = fresh(gzip ? 'bad.idx.gz' : 'bad.idx');
        fs.writeFileSync(file, gzip ? gzipSync(bytes) : bytes);
        const pattern = new RegExp(`^idx: ${esc(file)}: ${esc(message)}$`);
        assertThrowsLathe(() => readIdx(file), pattern);
        await rejectsLathe(readIdxAsync(file), pattern);
      });
    }
  }

  test('a truncated gzip file wraps zlib\'s error with the file name', async () => {
    const file = fresh('cut.idx.gz');
    const gz = gzipSync(good);
    fs.writeFileSync(file, gz.subarray(0, gz.length - 10));
    const pattern = new RegExp(`^idx: ${esc(file)}: corrupt or truncated gzip data \\(zlib: unexpected end of file\\)$`);
    assertThrowsLathe(() => readIdx(file), pattern);
    await rejectsLathe(readIdxAsync(file), pattern);
  });

  test('a gzip file with a damaged checksum is refused, not read', () => {
    const file = fresh('crc.idx.gz');
    const gz = Buffer.from(gzipSync(good));
    gz[gz.length - 6] ^= 0xff; // inside the CRC-32 trailer: the data inflates but does not match
    fs.writeFileSync(file, gz);
    assertThrowsLathe(() => readIdx(file), new RegExp(`^idx: ${esc(file)}: corrupt or truncated gzip data \\(zlib: incorrect data check\\)$`));
  });

  test('maxBytes stops a file that inflates past it', async () => {
    const file = fresh('big.idx.gz');
    fs.writeFileSync(file, gzipSync(good));
    const pattern = new RegExp(`^idx: ${esc(file)}: more than 39 bytes after gunzip$`);
    assertThrowsLathe(() => readIdx(file, { maxBytes: 39 }), pattern);
    await rejectsLathe(readIdxAsync(file, { maxBytes: 39 }), pattern);
    assert.equal(readIdx(file, { maxBytes: 40 }).data.length, 24);
  });

  test('a missing file is a LatheError naming it', () => {
    const file = path.join(tmp, 'nope.idx');
    assertThrowsLathe(() => readIdx(file), new RegExp(`^idx: ${esc(file)}: cannot read \\(ENOENT: no such file or directory`));
  });
});

test('a gzip trailer that overstates the size neither allocates it nor passes: zlib refuses the length', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lathe-isize-'));
  const file = path.join(dir, 'lie.idx.gz');
  const gz = gzipSync(encodeIdx(lt.arange(100, undefined, 1, { dtype: 'uint8' })));
  gz.writeUInt32LE(0xfffffff0, gz.length - 4); // claims 4 GB of output
  fs.writeFileSync(file, gz);
  const before = process.memoryUsage().rss;
  assertThrowsLathe(() => readIdx(file), /^idx: .*lie\.idx\.gz: corrupt or truncated gzip data \(zlib: /);
  assert.ok(process.memoryUsage().rss - before < 256 * 1024 * 1024, 'no allocation near the claimed size');
  fs.rmSync(dir, { recursive: true, force: true });
});

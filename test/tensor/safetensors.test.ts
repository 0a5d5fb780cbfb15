// safetensors: bit-exact round trips of every dtype with metadata, the byte layout of the spec
// (read back here with DataView, not with the decoder), a file written byte by byte the way
// Hugging Face's Python library writes it, and every rejection, with its message.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as lt from '../../src/index.js';
import { MAX_HEADER_BYTES, decodeSafetensors, encodeSafetensors } from '../../src/tensor/safetensors.js';
import { assertThrowsLathe, onEachBackend } from '../helpers.js';

const values = (t: lt.Tensor) => Array.from(t.dataSync());
const concat = (chunks: Uint8Array[]) => Buffer.concat(chunks);

/** A file: 8-byte little-endian header length, the header text as given, then the data. */
function file(header: string, data: Uint8Array = new Uint8Array(0), headerLength?: bigint): Buffer {
  const head = Buffer.from(header, 'utf8');
  const out = Buffer.alloc(8 + head.length + data.length);
  out.writeBigUInt64LE(headerLength ?? BigInt(head.length), 0);
  head.copy(out, 8);
  out.set(data, 8 + head.length);
  return out;
}
const json = (h: unknown, data?: Uint8Array) => file(JSON.stringify(h), data);

/** The header of an encoded file, parsed by hand. */
function parseLayout(bytes: Uint8Array): { n: number; text: string; header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>; dataStart: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  const text = Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8');
  return { n, text, header: JSON.parse(text), dataStart: 8 + n };
}

function sample(): Record<string, lt.Tensor> {
  return {
    f32: lt.tensor([1.5, -0, NaN, Infinity, -3.4028234663852886e38, 1e-45], { dtype: 'float32', shape: [2, 3] }),
    f64: lt.tensor([Math.PI, -0, NaN, -Infinity, 5e-324], { dtype: 'float64' }),
    i32: lt.tensor([[-2147483648, 2147483647], [0, -1]], { dtype: 'int32' }),
    u8: lt.tensor([0, 1, 127, 255], { dtype: 'uint8', shape: [1, 4, 1] }),
    i8: lt.tensor([-128, -1, 0, 127], { dtype: 'int8' }),
    flags: lt.tensor([true, false, true], { dtype: 'bool' }),
    scalar: lt.tensor(2.5, { dtype: 'float64' }),
    empty: lt.zeros([0, 3], { dtype: 'int32' }),
  };
}

onEachBackend('safetensors round trip', (backend) => {
  test('every dtype, edge values, scalar and empty tensors, with metadata: bit-exact', () => {
    const tensors = sample();
    const metadata = { format: 'lathe', note: 'ünïcode ✓', empty: '' };
    const bytes = concat(encodeSafetensors(tensors, metadata));
    // decode from a Buffer (what fs.readFileSync returns), a plain copy, and an unaligned view
    const padded = new Uint8Array(bytes.length + 3);
    padded.set(bytes, 3);
    for (const [label, input] of [['Buffer', bytes], ['Uint8Array', Uint8Array.from(bytes)], ['view at offset 3', padded.subarray(3)]] as const) {
      const out = decodeSafetensors(input);
      assert.deepEqual(out.metadata, metadata, label);
      assert.deepEqual(Object.keys(out.tensors), Object.keys(tensors), label);
      for (const [name, t] of Object.entries(tensors)) {
        const got = out.tensors[name];
        assert.equal(got.dtype, t.dtype, `${label} ${name} dtype`);
        assert.deepEqual(got.shape, t.shape, `${label} ${name} shape`);
        assert.equal(got.backend.name, backend);
        const [a, e] = [values(got), values(t)];
        assert.equal(a.length, e.length);
        a.forEach((v, i) => assert.ok(Object.is(v, e[i]), `${label} ${name}[${i}]: got ${v}, expected ${e[i]}`));
      }
    }
  });

  test('no metadata: no __metadata__ entry, and {} back', () => {
    const bytes = concat(encodeSafetensors({ a: lt.ones([2]) }));
    assert.equal('__metadata__' in parseLayout(bytes).header, false);
    assert.deepEqual(decodeSafetensors(bytes).metadata, {});
    assert.deepEqual(decodeSafetensors(concat(encodeSafetensors({}))).tensors, {});
  });

  test('unusual names round trip; __metadata__ cannot name a tensor', () => {
    const tensors: Record<string, lt.Tensor> = { 'layers.0.kernel': lt.ones([1]), 'poids_é': lt.full([2], 3) };
    Object.defineProperty(tensors, '__proto__', { value: lt.full([1], 7), enumerable: true });
    const out = decodeSafetensors(concat(encodeSafetensors(tensors))).tensors;
    assert.deepEqual(Object.keys(out), ['layers.0.kernel', 'poids_é', '__proto__']);
    assert.deepEqual(values(out.__proto__ as unknown as lt.Tensor), [7]);
    assert.equal(Object.getPrototypeOf(out), Object.prototype);
    assertThrowsLathe(() => encodeSafetensors({ __metadata__: lt.ones([1]) }), /^safetensors: a tensor cannot be named __metadata__$/);
  });
});

test('byte layout follows the spec', () => {
  const tensors = { b: lt.tensor([1, -2], { dtype: 'int32' }), a: lt.tensor([0.5, 0.25, 2], { dtype: 'float64' }), m: lt.tensor([7], { dtype: 'uint8' }) };
  const bytes = concat(encodeSafetensors(tensors, { format: 'pt' }));
  const { n, text, header, dataStart } = parseLayout(bytes);
  // the header is padded with spaces so that the data starts 8-byte aligned
  assert.equal(dataStart % 8, 0);
  assert.equal(text.trimEnd(), JSON.stringify(header));
  assert.ok(n - text.trimEnd().length < 8 && /^ *$/.test(text.slice(text.trimEnd().length)));
  assert.deepEqual(header.__metadata__, { format: 'pt' });
  // offsets count from the start of the data, in insertion order, contiguous, and cover it all
  assert.deepEqual(header.b, { dtype: 'I32', shape: [2], data_offsets: [0, 8] });
  assert.deepEqual(header.a, { dtype: 'F64', shape: [3], data_offsets: [8, 32] });
  assert.deepEqual(header.m, { dtype: 'U8', shape: [1], data_offsets: [32, 33] });
  assert.equal(bytes.length, dataStart + 33);
  // the data is little-endian
  const view = new DataView(bytes.buffer, bytes.byteOffset + dataStart);
  assert.deepEqual([view.getInt32(0, true), view.getInt32(4, true)], [1, -2]);
  assert.deepEqual([0, 1, 2].map((i) => view.getFloat64(8 + 8 * i, true)), [0.5, 0.25, 2]);
  assert.equal(view.getUint8(32), 7);
});

test('alignment counts UTF-8 bytes, not characters', () => {
  for (const name of ['é', 'ééé', '名前', 'x✓y']) {
    const bytes = concat(encodeSafetensors({ [name]: lt.ones([1], { dtype: 'float64' }) }, { note: name }));
    const { dataStart, header } = parseLayout(bytes);
    assert.equal(dataStart % 8, 0, `name ${name}`);
    assert.deepEqual(header[name].data_offsets, [0, 8]);
    assert.deepEqual(values(decodeSafetensors(bytes).tensors[name]), [1]);
  }
});

test("a file as Hugging Face's Python library writes it decodes", () => {
  // safetensors.torch.save_file({"weight": [[1,2],[3,4]] f32, "bias": [0.5,-0.5] f32, "scale": [2] f64,
  // "mask": [True,False,True] bool}, metadata={"format": "pt"}): compact JSON, __metadata__ first, the
  // tensors ordered by dtype (widest first) then name, header padded with spaces to a multiple of 8.
  const header = '{"__metadata__":{"format":"pt"},"scale":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},"bias":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},"weight":{"dtype":"F32","shape":[2,2],"data_offsets":[16,32]},"mask":{"dtype":"BOOL","shape":[3],"data_offsets":[32,35]}}';
  const data = new Uint8Array(35);
  const dv = new DataView(data.buffer);
  dv.setFloat64(0, 2, true);
  [0.5, -0.5, 1, 2, 3, 4].forEach((v, i) => dv.setFloat32(8 + 4 * i, v, true));
  data.set([1, 0, 1], 32);
  // padded as current versions write it, and unpadded as early versions did (the data then unaligned)
  for (const text of [header + ' '.repeat((8 - ((8 + header.length) % 8)) % 8), header]) {
    const { tensors, metadata } = decodeSafetensors(file(text, data), 'model.safetensors');
    assert.deepEqual(metadata, { format: 'pt' });
    assert.deepEqual(Object.keys(tensors).sort(), ['bias', 'mask', 'scale', 'weight']);
    assert.deepEqual([tensors.scale.dtype, tensors.weight.dtype, tensors.mask.dtype], ['float64', 'float32', 'bool']);
    assert.deepEqual(tensors.weight.shape, [2, 2]);
    assert.deepEqual(values(tensors.weight), [1, 2, 3, 4]);
    assert.deepEqual(values(tensors.bias), [0.5, -0.5]);
    assert.deepEqual(values(tensors.scale), [2]);
    assert.deepEqual(values(tensors.mask), [1, 0, 1]);
  }
  // the order of the header's keys does not matter, only the offsets
  const shuffled = JSON.stringify({ weight: { dtype: 'F32', shape: [2, 2], data_offsets: [16, 32] }, mask: { dtype: 'BOOL', shape: [3], data_offsets: [32, 35] }, scale: { dtype: 'F64', shape: [1], data_offsets: [0, 8] }, bias: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } });
  assert.deepEqual(values(decodeSafetensors(file(shuffled, data)).tensors.bias), [0.5, -0.5]);
});

test('decode rejects malformed files, naming the file and the problem', () => {
  const W = 'w.safetensors';
  const reject = (bytes: Uint8Array, pattern: RegExp) => assertThrowsLathe(() => decodeSafetensors(bytes, W), pattern);
  const u8 = (shape: unknown, offsets: unknown, dtype = 'U8') => ({ dtype, shape, data_offsets: offsets });
  reject(new Uint8Array(7), /^w\.safetensors: file is 7 bytes, too short for a safetensors header$/);
  reject(file('{}', new Uint8Array(0), 100n), /^w\.safetensors: header length 100 runs past the end of the 10-byte file$/);
  reject(file('{}', new Uint8Array(0), BigInt(MAX_HEADER_BYTES + 1)), new RegExp(`^w\\.safetensors: header length ${MAX_HEADER_BYTES + 1} exceeds the limit of ${MAX_HEADER_BYTES} bytes$`));
  reject(file('{}', new Uint8Array(0), 2n ** 63n), /^w\.safetensors: header length 9223372036854775808 exceeds the limit/);
  reject(file('{"a": {"dtype": "U8",'), /^w\.safetensors: header is not valid JSON \(/);
  reject(file('[1, 2]'), /^w\.safetensors: header must be a JSON object$/);
  reject(file('null'), /^w\.safetensors: header must be a JSON object$/);
  reject(json({ a: 3 }), /^w\.safetensors: tensor "a": entry must be an object$/);
  reject(json({ a: u8([2], [0, 4], 'F16') }, new Uint8Array(4)), /^w\.safetensors: tensor "a": dtype "F16" is not supported \(expected one of F32, F64, I32, I8, U8, BOOL\)$/);
  reject(json({ a: u8([2], [0, 2], 'u8') }, new Uint8Array(2)), /^w\.safetensors: tensor "a": dtype "u8" is not supported/);
  reject(json({ a: u8([2, -1], [0, 2]) }, new Uint8Array(2)), /^w\.safetensors: tensor "a": shape must be an array of non-negative integers, got \[2,-1\]$/);
  reject(json({ a: u8([1.5], [0, 2]) }, new Uint8Array(2)), /^w\.safetensors: tensor "a": shape must be an array of non-negative integers, got \[1\.5\]$/);
  reject(json({ a: u8('2', [0, 2]) }, new Uint8Array(2)), /^w\.safetensors: tensor "a": shape must be an array of non-negative integers, got "2"$/);
  reject(json({ a: u8([2], [2, 0]) }, new Uint8Array(2)), /^w\.safetensors: tensor "a": data_offsets must be \[begin, end\] with 0 <= begin <= end, got \[2,0\]$/);
  reject(json({ a: u8([2], [0]) }, new Uint8Array(2)), /^w\.safetensors: tensor "a": data_offsets must be \[begin, end\]/);
  reject(json({ a: u8([4], [0, 4]), b: u8([4], [2, 6]) }, new Uint8Array(6)), /^w\.safetensors: tensor "b" starts at byte 2, expected 4 \(ranges must be contiguous and not overlap\)$/);
  reject(json({ a: u8([2], [0, 2]), b: u8([2], [3, 5]) }, new Uint8Array(5)), /^w\.safetensors: tensor "b" starts at byte 3, expected 2 \(ranges must be contiguous and not overlap\)$/);
  reject(json({ a: u8([2], [1, 3]) }, new Uint8Array(3)), /^w\.safetensors: tensor "a" starts at byte 1, expected 0/);
  reject(json({ a: u8([8], [0, 8]) }, new Uint8Array(6)), /^w\.safetensors: tensor "a" ends at byte 8, past the 6 bytes of data$/);
  reject(json({ a: u8([3], [0, 8], 'F32') }, new Uint8Array(8)), /^w\.safetensors: tensor "a": float32 \[3\] needs 12 bytes, its range holds 8$/);
  reject(json({ a: u8([2, 2], [0, 8], 'F64') }, new Uint8Array(8)), /^w\.safetensors: tensor "a": float64 \[2,2\] needs 32 bytes, its range holds 8$/);
  reject(json({ a: u8([2], [0, 8], 'F32') }, new Uint8Array(10)), /^w\.safetensors: 2 bytes after the last tensor are not described by the header$/);
  reject(json({}, new Uint8Array(1)), /^w\.safetensors: 1 bytes after the last tensor are not described by the header$/);
  reject(json({ __metadata__: { a: 1 } }), /^w\.safetensors: __metadata__ must be an object of strings$/);
  reject(json({ __metadata__: ['x'] }), /^w\.safetensors: __metadata__ must be an object of strings$/);
  reject(json({ __metadata__: null }), /^w\.safetensors: __metadata__ must be an object of strings$/);
  // the default name in messages
  assertThrowsLathe(() => decodeSafetensors(new Uint8Array(3)), /^safetensors: file is 3 bytes/);
});

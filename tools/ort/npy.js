'use strict';
// Minimal self-contained .npy reader/writer (no npm deps).
// Reads format versions 1.0/2.0/3.0, C order, either byte order.
// Writes version 1.0, little-endian, C order, header padded to 64 bytes.

const fs = require('fs');

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY

// numpy kind+size -> { ort: ORT tensor type, ctor: TypedArray, size }
const DTYPES = {
  f4: { ort: 'float32', ctor: Float32Array, size: 4 },
  f8: { ort: 'float64', ctor: Float64Array, size: 8 },
  f2: { ort: 'float16', ctor: Uint16Array, size: 2 }, // raw IEEE half bits
  i8: { ort: 'int64', ctor: BigInt64Array, size: 8 },
  i4: { ort: 'int32', ctor: Int32Array, size: 4 },
  i2: { ort: 'int16', ctor: Int16Array, size: 2 },
  i1: { ort: 'int8', ctor: Int8Array, size: 1 },
  u8: { ort: 'uint64', ctor: BigUint64Array, size: 8 },
  u4: { ort: 'uint32', ctor: Uint32Array, size: 4 },
  u2: { ort: 'uint16', ctor: Uint16Array, size: 2 },
  u1: { ort: 'uint8', ctor: Uint8Array, size: 1 },
  b1: { ort: 'bool', ctor: Uint8Array, size: 1 },
};

// ORT tensor type -> numpy descr (little-endian)
const ORT_TO_DESCR = {
  float32: '<f4', float64: '<f8', float16: '<f2',
  int64: '<i8', int32: '<i4', int16: '<i2', int8: '|i1',
  uint64: '<u8', uint32: '<u4', uint16: '<u2', uint8: '|u1',
  bool: '|b1',
};

function parseHeader(text, file) {
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(text);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(text);
  const shape = /'shape'\s*:\s*\(([^)]*)\)/.exec(text);
  if (!descr || !fortran || !shape) {
    throw new Error(`${file}: cannot parse npy header: ${text.trim()}`);
  }
  const dims = shape[1].split(',').map((s) => s.trim()).filter((s) => s.length > 0)
    .map((s) => {
      const n = Number(s.replace(/L$/, ''));
      if (!Number.isInteger(n) || n < 0) throw new Error(`${file}: bad dim '${s}' in npy shape`);
      return n;
    });
  return { descr: descr[1], fortranOrder: fortran[1] === 'True', shape: dims };
}

/** Read an .npy file -> { dtype (ORT type name), shape: number[], data: TypedArray } */
function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.length < 10 || !buf.subarray(0, 6).equals(MAGIC)) {
    throw new Error(`${file}: not an .npy file (bad magic)`);
  }
  const major = buf[6];
  let hlen;
  let off;
  if (major === 1) { hlen = buf.readUInt16LE(8); off = 10; }
  else if (major === 2 || major === 3) { hlen = buf.readUInt32LE(8); off = 12; }
  else throw new Error(`${file}: unsupported npy version ${major}.${buf[7]}`);
  const hdr = parseHeader(buf.toString(major === 3 ? 'utf8' : 'latin1', off, off + hlen), file);
  if (hdr.fortranOrder) throw new Error(`${file}: fortran_order=True is not supported`);

  const m = /^([<>|=])([a-z])(\d+)$/.exec(hdr.descr);
  if (!m) throw new Error(`${file}: unsupported dtype '${hdr.descr}'`);
  const [, order, kind, size] = m;
  const dt = DTYPES[kind + size];
  if (!dt) throw new Error(`${file}: unsupported dtype '${hdr.descr}'`);

  const count = hdr.shape.reduce((a, b) => a * b, 1);
  const start = off + hlen;
  const nbytes = count * dt.size;
  if (buf.length - start < nbytes) {
    throw new Error(`${file}: truncated data (${buf.length - start} bytes, need ${nbytes})`);
  }
  // copy into a fresh, aligned ArrayBuffer
  const raw = new Uint8Array(nbytes);
  raw.set(buf.subarray(start, start + nbytes));
  if (order === '>' && dt.size > 1) {
    for (let i = 0; i < nbytes; i += dt.size) raw.subarray(i, i + dt.size).reverse();
  }
  const data = new dt.ctor(raw.buffer, 0, count);
  return { dtype: dt.ort, shape: hdr.shape, data };
}

/** Write a TypedArray as .npy v1.0 (little-endian, C order). dtype is an ORT type name. */
function writeNpy(file, dtype, shape, data) {
  const descr = ORT_TO_DESCR[dtype];
  if (!descr) throw new Error(`cannot write dtype '${dtype}' to npy`);
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
    throw new Error('big-endian host is not supported');
  }
  const dims = shape.map(Number);
  const shapeStr = dims.length === 0 ? '()' : dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeStr}, }`;
  // 10-byte preamble + header + '\n' must be a multiple of 64
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header + ' '.repeat(total - 10 - header.length - 1) + '\n';
  if (header.length > 0xffff) throw new Error('npy header too long');
  const pre = Buffer.alloc(10);
  MAGIC.copy(pre, 0);
  pre[6] = 1; pre[7] = 0;
  pre.writeUInt16LE(header.length, 8);

  let bytes;
  if (Array.isArray(data)) { // e.g. bool or string arrays from some APIs
    if (dtype !== 'bool') throw new Error(`plain Array data only supported for bool, got ${dtype}`);
    bytes = Buffer.from(data.map((v) => (v ? 1 : 0)));
  } else {
    bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    if (dtype === 'bool') bytes = Buffer.from(Array.from(bytes, (v) => (v ? 1 : 0)));
  }
  const count = dims.reduce((a, b) => a * b, 1);
  const esize = Number(descr.slice(2));
  if (bytes.length !== count * esize) {
    throw new Error(`data size ${bytes.length} B does not match shape [${dims}] of ${dtype}`);
  }
  fs.writeFileSync(file, Buffer.concat([pre, Buffer.from(header, 'latin1'), bytes]));
}

module.exports = { readNpy, writeNpy, ORT_TO_DESCR };

#!/usr/bin/env node
'use strict';
// ONNX Runtime oracle: run MODEL on .npy inputs, write OUT_DIR/output_<i>.npy.
//
//   node tools/ort/run_model.js MODEL OUT_DIR IN0.npy [IN1.npy ...]
//
// Inputs are bound to the model's inputs by position. CPU execution provider,
// graphOptimizationLevel 'all', intraOpNumThreads 1 (deterministic oracle).
// Prints one line per output (name, dtype, shape) to stdout; exits non-zero
// with a message on any error.

const fs = require('fs');
const path = require('path');
const { readNpy, writeNpy, ORT_TO_DESCR } = require('./npy');

function usage(msg) {
  if (msg) process.stderr.write(`run_model.js: ${msg}\n`);
  process.stderr.write('usage: node run_model.js MODEL OUT_DIR IN0.npy [IN1.npy ...]\n');
  process.exit(2);
}

async function main(argv) {
  if (argv.includes('-h') || argv.includes('--help')) usage();
  if (argv.length < 2) usage('expected MODEL and OUT_DIR');
  const [modelPath, outDir, ...inputFiles] = argv;
  if (!fs.existsSync(modelPath)) throw new Error(`model not found: ${modelPath}`);

  let ort;
  try {
    ort = require('onnxruntime-node');
  } catch (e) {
    throw new Error(`cannot load onnxruntime-node (run 'npm ci --ignore-scripts' in ${__dirname}): ${e.message}`);
  }

  const session = await ort.InferenceSession.create(modelPath, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
  });

  const names = session.inputNames;
  if (inputFiles.length !== names.length) {
    throw new Error(`model has ${names.length} input(s) [${names.join(', ')}], got ${inputFiles.length} .npy file(s)`);
  }
  const meta = session.inputMetadata || [];
  const feeds = {};
  names.forEach((name, i) => {
    const arr = readNpy(inputFiles[i]);
    const m = meta[i];
    if (m && m.isTensor && m.type && m.type !== arr.dtype) {
      throw new Error(`input ${i} '${name}': model expects ${m.type}, ${inputFiles[i]} holds ${arr.dtype}`);
    }
    if (m && m.isTensor && Array.isArray(m.shape)) {
      if (m.shape.length !== arr.shape.length) {
        throw new Error(`input ${i} '${name}': model expects rank ${m.shape.length} [${m.shape}], got [${arr.shape}]`);
      }
      m.shape.forEach((d, k) => {
        if (typeof d === 'number' && d >= 0 && d !== arr.shape[k]) {
          throw new Error(`input ${i} '${name}': dim ${k} must be ${d}, got ${arr.shape[k]} (shape [${arr.shape}])`);
        }
      });
    }
    let data = arr.data;
    if (arr.dtype === 'bool') data = Uint8Array.from(data, (v) => (v ? 1 : 0));
    feeds[name] = new ort.Tensor(arr.dtype, data, arr.shape);
  });

  const results = await session.run(feeds);
  fs.mkdirSync(outDir, { recursive: true });
  session.outputNames.forEach((name, i) => {
    const t = results[name];
    if (!t) throw new Error(`output '${name}' missing from results`);
    if (!ORT_TO_DESCR[t.type]) throw new Error(`output ${i} '${name}': unsupported type ${t.type}`);
    const file = path.join(outDir, `output_${i}.npy`);
    writeNpy(file, t.type, t.dims, t.data);
    process.stdout.write(`output_${i} ${name} ${t.type} [${t.dims.join(',')}] -> ${file}\n`);
  });
  if (typeof session.release === 'function') await session.release();
}

main(process.argv.slice(2)).catch((e) => {
  process.stderr.write(`run_model.js: error: ${e && e.message ? e.message : e}\n`);
  process.exit(1);
});

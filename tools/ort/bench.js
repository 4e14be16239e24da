#!/usr/bin/env node
'use strict';
// ONNX Runtime peer benchmark.
//
//   node tools/ort/bench.js MODEL --batch N --iters K [--threads T]
//        [--shape 1x3x16x16] [--warmup W] [--seed S] [--input X.npy]
//
// Times session.run (CPU EP, graphOptimizationLevel 'all', sequential
// execution, intraOpNumThreads T, default 1), fetching every model output, on
// an input of shape [N, ...rest of the model's first input shape] and of the
// input's dtype (float32 or float64). Without --input the values are random
// uniform [-1, 1); non-batch dims that are dynamic in the model are taken from
// --shape (its first dim is ignored; the batch is always N). With --input,
// rows of the .npy file (converted to the input's dtype): batch b holds rows
// (b*N + r) mod R, r < N, of the file's R rows (a batch larger than the file
// tiles it); there are max(1, min(R / N, 1024)) distinct batches and iteration
// i runs batch i mod that count (the rule of bench/tiffin_bench.cc and
// bench/peers/sklearn_bench.py). Prints one JSON line: mean, p50, p99 (nearest
// rank) and min of one run in µs, rows_per_s = N / mean, cpu_us = the
// process's CPU time (all threads) over the timed runs / K.

const path = require('path');

function usage(msg) {
  if (msg) process.stderr.write(`bench.js: ${msg}\n`);
  process.stderr.write('usage: node bench.js MODEL --batch N --iters K [--threads T] [--shape AxBxC] [--warmup W] [--seed S] [--input X.npy]\n');
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { batch: null, iters: null, threads: 1, shape: null, warmup: null, seed: 1, model: null, input: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const eq = a.indexOf('=');
    const key = a.startsWith('--') ? (eq > 0 ? a.slice(2, eq) : a.slice(2)) : null;
    if (key === null) {
      if (opts.model !== null) usage(`unexpected argument '${a}'`);
      opts.model = a;
      continue;
    }
    if (key === 'help' || key === 'h') usage();
    const val = eq > 0 ? a.slice(eq + 1) : argv[++i];
    if (val === undefined) usage(`missing value for --${key}`);
    switch (key) {
      case 'batch': case 'iters': case 'threads': case 'warmup': case 'seed': {
        const n = Number(val);
        if (!Number.isInteger(n) || n < 0 || (key !== 'warmup' && key !== 'seed' && n < 1)) {
          usage(`bad value for --${key}: '${val}'`);
        }
        opts[key] = n;
        break;
      }
      case 'shape': {
        const dims = val.split(/[x,]/).map(Number);
        if (dims.length === 0 || dims.some((d) => !Number.isInteger(d) || d < 1)) usage(`bad --shape '${val}'`);
        opts.shape = dims;
        break;
      }
      case 'input': opts.input = val; break;
      default: usage(`unknown option --${key}`);
    }
  }
  if (!opts.model) usage('missing MODEL');
  if (opts.batch === null) usage('missing --batch');
  if (opts.iters === null) usage('missing --iters');
  if (opts.warmup === null) opts.warmup = Math.max(3, Math.min(50, Math.ceil(opts.iters / 10)));
  return opts;
}

function modelName(p) {
  const base = path.basename(p);
  if (base === 'model.onnx') return path.basename(path.dirname(path.resolve(p)));
  return base.replace(/\.onnx$/, '');
}

// deterministic uniform [-1, 1) floats (mulberry32)
function randomFloats(n, seed, Ctor = Float32Array) {
  let s = seed >>> 0;
  const out = new Ctor(n);
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}

async function main(argv) {
  const opts = parseArgs(argv);
  const ort = require('onnxruntime-node');
  const session = await ort.InferenceSession.create(opts.model, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads: opts.threads,
    interOpNumThreads: 1,
  });

  if (session.inputNames.length !== 1) {
    throw new Error(`bench supports single-input models; ${opts.model} has ${session.inputNames.length} inputs`);
  }
  const meta = (session.inputMetadata || [])[0];
  if (!meta || !meta.isTensor || !Array.isArray(meta.shape)) {
    throw new Error('cannot read the input shape from the model metadata');
  }
  const ctors = { float32: Float32Array, float64: Float64Array };
  const Ctor = ctors[meta.type];
  if (!Ctor) throw new Error(`input is ${meta.type}, bench only feeds float32 and float64`);
  if (opts.input) return runFromNpy(ort, session, meta, Ctor, opts);
  if (opts.shape && opts.shape.length !== meta.shape.length) {
    throw new Error(`--shape has rank ${opts.shape.length}, model input '${meta.name}' has rank ${meta.shape.length} [${meta.shape}]`);
  }
  const shape = meta.shape.map((d, k) => {
    if (k === 0) return opts.batch;
    if (opts.shape) {
      if (typeof d === 'number' && d >= 0 && d !== opts.shape[k]) {
        throw new Error(`--shape dim ${k} is ${opts.shape[k]} but the model fixes it to ${d}`);
      }
      return opts.shape[k];
    }
    if (typeof d === 'number' && d >= 0) return d;
    throw new Error(`input dim ${k} ('${d}') is dynamic; pass --shape`);
  });
  if (typeof meta.shape[0] === 'number' && meta.shape[0] >= 0 && meta.shape[0] !== opts.batch) {
    throw new Error(`model fixes the batch dim to ${meta.shape[0]}, cannot run batch ${opts.batch}`);
  }

  const count = shape.reduce((a, b) => a * b, 1);
  const input = new ort.Tensor(meta.type, randomFloats(count, opts.seed, Ctor), shape);
  return timeRuns(ort, session, [{ [session.inputNames[0]]: input }], opts, 'random');
}

// --input: batches of rows from an .npy file (see the header comment).
async function runFromNpy(ort, session, meta, Ctor, opts) {
  const { readNpy } = require('./npy');
  const src = readNpy(opts.input);
  if (src.shape.length < 1 || src.shape[0] < 1) throw new Error(`${opts.input} has no rows`);
  if (src.shape.length !== meta.shape.length) {
    throw new Error(`${opts.input} has rank ${src.shape.length}, model input '${meta.name}' has rank ${meta.shape.length}`);
  }
  meta.shape.forEach((d, k) => {
    if (k > 0 && typeof d === 'number' && d >= 0 && d !== src.shape[k]) {
      throw new Error(`${opts.input} dim ${k} is ${src.shape[k]} but the model fixes it to ${d}`);
    }
  });
  const rows = src.shape[0];
  const width = src.shape.slice(1).reduce((a, b) => a * b, 1);
  const distinct = Math.max(1, Math.min(Math.floor(rows / opts.batch), 1024));
  const feeds = [];
  for (let b = 0; b < distinct; b++) {
    const data = new Ctor(opts.batch * width);
    for (let r = 0; r < opts.batch; r++) {
      const from = ((b * opts.batch + r) % rows) * width;
      for (let k = 0; k < width; k++) data[r * width + k] = Number(src.data[from + k]);
    }
    feeds.push({ [session.inputNames[0]]: new ort.Tensor(meta.type, data, [opts.batch, ...src.shape.slice(1)]) });
  }
  return timeRuns(ort, session, feeds, opts, 'npy');
}

async function timeRuns(ort, session, feeds, opts, inputKind) {
  for (let i = 0; i < opts.warmup; i++) await session.run(feeds[i % feeds.length]);

  const times = new Float64Array(opts.iters);
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < opts.iters; i++) {
    const feed = feeds[i % feeds.length];
    const t0 = process.hrtime.bigint();
    await session.run(feed);
    times[i] = Number(process.hrtime.bigint() - t0) / 1e3;
  }
  const cpu = process.cpuUsage(cpu0);
  const sorted = Array.from(times).sort((a, b) => a - b);
  const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length;
  const mid = sorted.length >> 1;
  const p50 = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  const p99 = sorted[Math.max(Math.ceil(0.99 * sorted.length), 1) - 1];
  const r = (x) => Math.round(x * 100) / 100;
  process.stdout.write(JSON.stringify({
    peer: `onnxruntime-node ${(ort.env.versions && ort.env.versions.node) || 'unknown'}`,
    model: modelName(opts.model),
    batch: opts.batch,
    threads: opts.threads,
    iters: opts.iters,
    mean_us: r(mean),
    p50_us: r(p50),
    p99_us: r(p99),
    min_us: r(sorted[0]),
    cpu_us: r((cpu.user + cpu.system) / opts.iters),
    rows_per_s: r(opts.batch / (mean / 1e6)),
    input: inputKind,
    outputs: session.outputNames,
  }) + '\n');
  if (typeof session.release === 'function') await session.release();
}

main(process.argv.slice(2)).catch((e) => {
  process.stderr.write(`bench.js: error: ${e && e.message ? e.message : e}\n`);
  process.exit(1);
});

#!/usr/bin/env node
'use strict';
// ONNX Runtime oracle, many models per process: reads a JSON job list and
// writes a JSON result list.
//
//   node tools/ort/run_batch.js JOBS.json RESULTS.json
//
// JOBS.json: [{"model": PATH, "inputs": {NAME: {"type": "float64"|"string"|...,
//              "dims": [..], "data": [..]}}}, ...]
// RESULTS.json: [{"model": PATH, "outputs": {NAME: {"type", "dims", "data"}}}
//                 or {"model": PATH, "error": MESSAGE}, ...]
// CPU execution provider, one thread, graph optimizations on. A job's error
// (e.g. a model ONNX Runtime refuses) is recorded, not fatal.

const fs = require('fs');

async function main(argv) {
  if (argv.length !== 2) {
    process.stderr.write('usage: node run_batch.js JOBS.json RESULTS.json\n');
    process.exit(2);
  }
  const ort = require('onnxruntime-node');
  const jobs = JSON.parse(fs.readFileSync(argv[0], 'utf8'));
  const results = [];
  for (const job of jobs) {
    try {
      const session = await ort.InferenceSession.create(job.model, {
        executionProviders: ['cpu'],
        graphOptimizationLevel: 'all',
        intraOpNumThreads: 1,
        interOpNumThreads: 1,
        logSeverityLevel: 3,
      });
      const feeds = {};
      for (const [name, t] of Object.entries(job.inputs)) {
        let data = t.data;
        if (t.type === 'float64') data = Float64Array.from(data, (v) => (v === null ? NaN : v));
        else if (t.type === 'float32') data = Float32Array.from(data, (v) => (v === null ? NaN : v));
        else if (t.type === 'int64') data = BigInt64Array.from(data, (v) => BigInt(v));
        feeds[name] = new ort.Tensor(t.type, data, t.dims);
      }
      const out = await session.run(feeds);
      const outputs = {};
      for (const name of session.outputNames) {
        const t = out[name];
        const data = t.type === 'int64' ? Array.from(t.data, (v) => Number(v)) : Array.from(t.data);
        outputs[name] = { type: t.type, dims: t.dims, data };
      }
      results.push({ model: job.model, outputs });
      if (typeof session.release === 'function') await session.release();
    } catch (e) {
      results.push({ model: job.model, error: String(e && e.message ? e.message : e) });
    }
  }
  fs.writeFileSync(argv[1], JSON.stringify(results, (k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v)));
}

main(process.argv.slice(2)).catch((e) => {
  process.stderr.write(`run_batch.js: error: ${e && e.message ? e.message : e}\n`);
  process.exit(1);
});

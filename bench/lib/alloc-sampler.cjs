// Development aid: preload (node --require) that samples *every* allocation, including objects the GC has
// already collected (what the scavenger churns through), unlike --heap-prof which only reports what is still
// live. ALLOC_MINOR=0 keeps only objects that survived the young generation. Writes ALLOC_PROFILE (default /tmp/alloc.heapprofile) when the process gets SIGUSR2 or exits.
// Usage: node --require ./bench/lib/alloc-sampler.cjs dist/main.js ...
'use strict';
const inspector = require('node:inspector');
const fs = require('node:fs');
const session = new inspector.Session();
session.connect();
const out = process.env.ALLOC_PROFILE ?? '/tmp/alloc.heapprofile';
session.post('HeapProfiler.enable');
session.post('HeapProfiler.startSampling', {
  samplingInterval: Number(process.env.ALLOC_INTERVAL ?? 1024),
  includeObjectsCollectedByMajorGC: true,
  // ALLOC_MINOR=0 leaves out what the scavenger collected: what remains was promoted (or is still live).
  includeObjectsCollectedByMinorGC: process.env.ALLOC_MINOR !== '0',
}, (err) => { if (err) process.stderr.write(`alloc-sampler: ${err.message}\n`); });
let written = false;
function write() {
  if (written) return;
  written = true;
  session.post('HeapProfiler.stopSampling', (err, r) => {
    if (err) process.stderr.write(`alloc-sampler: ${err.message}\n`);
    else fs.writeFileSync(out, JSON.stringify(r.profile));
  });
}
process.on('SIGUSR2', write);
process.on('exit', write);

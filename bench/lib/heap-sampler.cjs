// @ts-check
// Preloaded (`node --require`) into the process `node bench/profile.mjs alloc` profiles. SIGUSR2 starts V8's
// sampling heap profiler with the objects garbage collection has already taken kept in the profile, so it shows
// what was allocated, not only what is still alive; the next SIGUSR2 stops it and writes the profile to
// allocationProfilePath(pid) (written beside, then renamed: a reader never sees half a file).
'use strict';
const fs = require('node:fs');
const inspector = require('node:inspector');
const os = require('node:os');
const path = require('node:path');

/** One sample per this many bytes allocated, on average. */
const SAMPLING_BYTES = 4096;

/** @param {number} pid */
function allocationProfilePath(pid) {
  return path.join(os.tmpdir(), `modelgate-allocations-${pid}.heapprofile`);
}

// Armed only where it was preloaded; the benchmark itself loads it for allocationProfilePath alone.
if (process.execArgv.some((arg) => arg.endsWith('heap-sampler.cjs'))) {
  const session = new inspector.Session();
  session.connect();
  let sampling = false;
  process.on('SIGUSR2', () => {
    sampling = !sampling;
    if (sampling) {
      // Node's inspector types predate the two include* parameters; V8 has them.
      /** @type {any} */
      const parameters = {
        samplingInterval: SAMPLING_BYTES,
        includeObjectsCollectedByMajorGC: true,
        includeObjectsCollectedByMinorGC: true,
      };
      session.post('HeapProfiler.startSampling', parameters);
      return;
    }
    session.post('HeapProfiler.stopSampling', (error, result) => {
      const file = allocationProfilePath(process.pid);
      const text = error ? JSON.stringify({ error: String(error) }) : JSON.stringify(result.profile);
      fs.writeFileSync(`${file}.part`, text);
      fs.renameSync(`${file}.part`, file);
    });
  });
}

module.exports = { allocationProfilePath };

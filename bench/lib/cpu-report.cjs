// @ts-check
// Preloaded (`node --require`) into every process the storm starts: prints the process' own CPU time as its last
// output line, so the harness can add up what a design costs in CPU, not only in wall time.
'use strict';
process.on('exit', () => {
  const { user, system } = process.cpuUsage();
  process.stderr.write(`\n${JSON.stringify({ benchCpuSeconds: (user + system) / 1e6, pid: process.pid })}\n`);
});

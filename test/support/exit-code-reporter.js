// @ts-check
// A jest reporter that sets the exit code as soon as the results are known: with the e2e project in the run, the
// jest process has been seen to end with exit code 0 after a failed test (something after the reporters ends it
// before jest sets its own exit code; not found yet), and CI must never pass a failing suite.
'use strict';

class ExitCodeReporter {
  /** @param {unknown} _contexts @param {import('@jest/test-result').AggregatedResult} results */
  onRunComplete(_contexts, results) {
    // Not `results.success`: with the e2e project it is false even when every test passed (not found yet either).
    if (
      results.numFailedTests > 0 ||
      results.numFailedTestSuites > 0 ||
      results.numRuntimeErrorTestSuites > 0
    )
      process.exitCode = 1;
  }
}

module.exports = ExitCodeReporter;

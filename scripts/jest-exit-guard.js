// A Jest reporter that ends a run which would not end. After a failed test Jest can wait forever on
// a handle the test left open (a peer connection, a socket, a child process): CI then hits its time
// limit instead of reporting the failure (it did: a chaos test failed in 15 minutes and the run was
// killed at 90). GRACE_MS after the results are in, this names what is still open and exits: with 1
// when a test failed, with 2 when all passed (something leaked: that is a failure too).
'use strict';

const GRACE_MS = 30000;

class ExitGuard {
  onRunComplete(_contexts, results) {
    const failed = results.numFailedTests > 0 || results.numFailedTestSuites > 0 || results.numRuntimeErrorTestSuites > 0;
    setTimeout(() => {
      const open = typeof process.getActiveResourcesInfo === 'function' ? process.getActiveResourcesInfo() : [];
      process.stderr.write(`[jest-exit-guard] the run did not end ${GRACE_MS / 1000} s after its results; still open: ${JSON.stringify(open)}\n`);
      process.exit(failed ? 1 : 2);
    }, GRACE_MS).unref();
  }
}

module.exports = ExitGuard;

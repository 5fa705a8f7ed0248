// Prints one plain closing line, "N passed, N failed" (", N skipped"), after jest's own summary,
// so CI logs end with a line any tool can read.
class SummaryReporter {
  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests;
    const line = `${results.numPassedTests} passed, ${results.numFailedTests} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`;
    process.stdout.write(`\njest: ${line}\n`);
  }
}
module.exports = SummaryReporter;

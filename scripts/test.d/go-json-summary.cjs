// Ends a Go suite of scripts/test.d/: `node go-json-summary.cjs EVENTS LABEL RC SECONDS`, with EVENTS the file
// holding `go test -json` output and RC its exit status. Prints the tests' verbose output (and any plain-text build
// lines as they are), then "LABEL: P passed, F failed, S skipped (go test exit RC, SECONDS s)"; appends
// "PASSED FAILED SKIPPED" to $WATTSCHED_TEST_COUNTS, counting leaf tests only (a subtest counts, its parent does
// not); exits 0 only when go test did and nothing failed. Not a suite itself: test.sh runs only *.sh.
const [events, label = 'go test', rcText = '1', seconds = '?'] = process.argv.slice(2);
const rc = Number(rcText);
const counts = process.env.WATTSCHED_TEST_COUNTS || '/dev/null';
const fs = require('fs');

let text;
try {
  text = fs.readFileSync(events, 'utf8');
} catch (err) {
  console.log(`${label}: FAILED, no go test output (${err.message})`);
  fs.appendFileSync(counts, '0 1 0\n');
  process.exit(1);
}
const final = new Map();
for (const line of text.split('\n').filter(Boolean)) {
  let ev;
  try {
    ev = JSON.parse(line);
  } catch {
    process.stdout.write(line + '\n');
    continue;
  }
  if ((ev.Action === 'output' || ev.Action === 'build-output') && ev.Output) process.stdout.write(ev.Output);
  if (ev.Test && ['pass', 'fail', 'skip'].includes(ev.Action)) final.set(ev.Package + ' ' + ev.Test, ev.Action);
}
const names = [...final.keys()];
let p = 0, f = 0, s = 0;
for (const [name, action] of final) {
  if (names.some((o) => o.startsWith(name + '/'))) continue;
  if (action === 'pass') p++;
  else if (action === 'fail') f++;
  else s++;
}
// A build failure, a panic outside any test or a TestMain that gives up (the stack's up.sh) fails no single test,
// yet fails the suite.
if (rc !== 0 && f === 0) f = 1;
console.log(`${label}: ${p} passed, ${f} failed, ${s} skipped (go test exit ${rc}, ${seconds} s)`);
fs.appendFileSync(counts, `${p} ${f} ${s}\n`);
process.exit(rc === 0 && f === 0 ? 0 : 1);

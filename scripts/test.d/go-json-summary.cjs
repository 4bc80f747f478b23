// Reads `go test -json` output (argv[2]), prints the tests' verbose output (and any plain-text build lines as they
// are), and prints "PASSED FAILED SKIPPED" as its last line, counting leaf tests only: a subtest counts, its parent
// does not. Shared by the Go suites in scripts/test.d/ (not a suite itself: test.sh runs only *.sh).
const lines = require('fs').readFileSync(process.argv[2], 'utf8').split('\n').filter(Boolean);
const label = process.argv[3] ?? 'go test';
const final = new Map();
for (const line of lines) {
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
process.stderr.write(`${label}: ${p} passed, ${f} failed, ${s} skipped\n`);
console.log(`${p} ${f} ${s}`);

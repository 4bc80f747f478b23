// Thin runner for the real-kube-scheduler benchmark, which is Go (test/kube-scheduler/cmd/ksbench) because it
// runs upstream kube-scheduler in-process. Builds it (Go's cache makes that seconds after setup) and runs it with
// the arguments given here, e.g. `node dist/bench/kube-scheduler/run.js -nodes 1000 -rounds 1`. The Go program
// prints the table and writes bench/results/kube-scheduler.json.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { projectRoot } from '../paths.js';

function run(cmd: string, args: string[], cwd: string): number {
  const r = spawnSync(cmd, args, { cwd, stdio: 'inherit', env: { ...process.env, WATTSCHED_REPO: projectRoot() } });
  if (r.error) {
    console.error(`bench/kube-scheduler: cannot run ${cmd}: ${r.error.message}${cmd === 'go' ? ' (Go >= 1.25 is needed)' : ''}`);
    return 1;
  }
  return r.status ?? 1;
}

const mod = join(projectRoot(), 'test', 'kube-scheduler');
const bin = join(mod, 'bin', 'ksbench');
let status = run('go', ['build', '-o', bin, './cmd/ksbench'], mod);
if (status === 0) status = run(bin, process.argv.slice(2), mod);
process.exitCode = status;

// `promtool check metrics`, Prometheus's own linter for an exposition: what every /metrics endpoint must pass. The
// prometheus package (scripts/apt-packages.txt) ships promtool, so its absence fails the test as a set-up fault.
import { execFileSync } from 'node:child_process';

/** promtool's complaints about the exposition; empty when it is clean. */
export function promtoolLint(exposition: string): string {
  return execFileSync('promtool', ['check', 'metrics'], { input: exposition, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] }).trim();
}

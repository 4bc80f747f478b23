// `wattsched start` (npm start) for real: the agent, the model server and the extender as processes on loopback,
// and a status that carries live numbers from each. Needs dist/ (scripts/test.sh builds it first).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { renderStatus } from '../../src/demo/status.js';
import { nodeReport } from '../extender/live/fixtures.js';

const CLI = join(import.meta.dirname, '../../dist/src/cli/main.js');

describe('renderStatus', () => {
  test('shows node power and source, top pods by watts, and the sample pod on each node', () => {
    const report = nodeReport('n1', 0.25, 87.25, [
      { uid: 'a', namespace: 'shop', name: 'web-1', deployment: 'web', cores: 1.5, watts: 12 },
      { uid: 'b', namespace: 'shop', name: 'db-1', deployment: 'db', cores: 0.5, watts: 30.06 },
    ]);
    report.pods.push({ ...report.pods[0]!, uid: 'c0ffee', namespace: null, name: null, energy: { watts: 1, joules: 0, cpuSecondsTotal: 0, contextSwitchesTotal: 0 } });
    const text = renderStatus({
      at: new Date(0),
      urls: { agent: 'http://a', extender: 'http://e', modelServer: 'http://m' },
      logDir: '/tmp/x',
      report,
      modelServer: { models: 6 },
      sample: { pod: 'default/s', demand: { cores: 0.2, source: 'annotation', detail: 'hint' }, failOpen: null, nodes: [{ name: 'n1', marginalWatts: 3.14159, powerWithPodWatts: 90.4, score: 10, basis: 'curve: annotation' }] },
    });
    expect(text).toContain('node power 87.3 W (source rapl, model test-model), idle 10.0 W, CPU 25.0% busy');
    // Sorted by watts: db (30.1 W) before web (12.0 W).
    expect(text.indexOf('shop/db-1')).toBeLessThan(text.indexOf('shop/web-1'));
    expect(text).toMatch(/shop\/db-1 +30\.1 W +0\.50 cores/);
    expect(text).toMatch(/pod c0ffee +1\.0 W/);
    expect(text).toContain('predicted 0.20 cores from annotation (hint)');
    expect(text).toMatch(/on n1 +\+3\.1 W +→ 90\.4 W +score 10/);
    expect(text).toContain('model server: 6 models loaded');
  });
});

describe('wattsched start', () => {
  test('runs all three components and prints live numbers, then stops them', async () => {
    const child = spawn(process.execPath, [CLI, 'start', '--frames', '3', '--refresh-ms', '2500', '--ephemeral-ports'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code, out).toBe(0);
    const frames = out.split('\n\n').filter((f) => f.includes('wattsched on this machine'));
    const last = out.slice(out.lastIndexOf('wattsched on this machine'));
    expect(frames.length).toBeGreaterThanOrEqual(1);
    // The agent's node power is a positive number with its source.
    const power = /node power (\d+\.\d) W \(source (acpi|rapl|hwmon|nvidia|model)/.exec(last);
    expect(power, last).not.toBeNull();
    expect(Number(power?.[1])).toBeGreaterThan(0);
    expect(last).toMatch(/collector (ebpf|fallback) \(/);
    expect(last).toMatch(/model server: \d+ models loaded/);
    // The extender answered for the sample pod from the hint, judging this node by the agent's measured load.
    expect(last).toContain('predicted 0.20 cores from annotation');
    expect(last).toMatch(/load: measured \d+\.\d% \(agent, \d+ s old, node \d+\.\d W from/);
    // Either a priced placement or, on a machine busier than it can hold, the saturation reason: never a free node.
    expect(last).toMatch(/\+\d+\.\d W +→ \d+\.\d W +score \d+|saturated: load/);
    // Everything it started is gone: the agent's port no longer answers.
    const agentUrl = /agent (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1] as string;
    await expect(fetch(`${agentUrl}/healthz`, { signal: AbortSignal.timeout(2000) })).rejects.toThrow();
  }, 120_000);
});

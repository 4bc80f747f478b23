import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test, vi } from 'vitest';
import { main } from '../../src/sim/command.js';
import { parseUsage, podUsage } from '../../src/sim/usage.js';

const dir = mkdtempSync(join(tmpdir(), 'wattsched-sim-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const WATTS_HEADER = 'watts_100,watts_90,watts_80,watts_70,watts_60,watts_50,watts_40,watts_30,watts_20,watts_10,watts_idle';
// One 1-thread server, linear 100 W idle → 200 W at full load (columns run from 100 % down to idle).
const servers = join(dir, 'servers.csv');
writeFileSync(servers, `result_id,threads,memory_gb,nodes,${WATTS_HEADER}\nr1,1,1,1,200,190,180,170,160,150,140,130,120,110,100\n`);
// Pod a: 500m for an hour; pod b: 2000m, more than the node has.
const trace = join(dir, 'pods.csv');
writeFileSync(trace, 'name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time\na,500,100,0,0,,LS,Running,0,3600,0\nb,2000,100,0,0,,LS,Running,10,20,10\n');

async function run(args: string[]): Promise<string> {
  const out: string[] = [];
  const spy = vi.spyOn(console, 'log').mockImplementation((s: unknown) => void out.push(String(s)));
  try {
    await main(args);
  } finally {
    spy.mockRestore();
  }
  return out.join('\n');
}

describe('wattsched sim', () => {
  test('--json is exactly the issue’s shape, with hand-computed numbers', async () => {
    const out = JSON.parse(await run(['--trace', trace, '--servers', servers, '--json']));
    // Every policy: a at 50 % → 150 W for 3600 s = 0.15 kWh; b fits nowhere.
    const one = { energy_kwh: 0.15, unschedulable: 1, peak_watts: 150, mean_nodes_on: 1 };
    expect(out).toEqual({
      policies: { default: one, peaks: one, tlp: one, greedy: one, wattsched: one },
      // The bound carries every live pod's load, b's 2000m clamped to the 1000m capacity for its 10 s: 200 W.
      bound: { energy_kwh: Number(((150 * 3590 + 200 * 10) / 3.6e6).toFixed(3)) },
    });
  });
  test('power-down and --usage: a pod using 40 % of its request, the node off once empty', async () => {
    const out = JSON.parse(await run(['--trace', trace, '--servers', servers, '--policy', 'default', '--usage', '0.4', '--power-down-after', '0', '--json']));
    // a uses 200m: 120 W for 3600 s = 0.12 kWh.
    expect(out.policies).toEqual({ default: { energy_kwh: 0.12, unschedulable: 1, peak_watts: 120, mean_nodes_on: 1 } });
  });
  test('the table lists every policy and the bound; --plot writes a PNG', async () => {
    const png = join(dir, 'power.png');
    const text = await run(['--trace', trace, '--servers', servers, '--plot', png]);
    for (const name of ['default', 'peaks', 'tlp', 'greedy', 'wattsched', 'bound']) expect(text).toMatch(new RegExp(`^${name}\\s`, 'm'));
    expect(readFileSync(png).subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  });
  test.for([
    [['--servers', 'x'], 'WS_ERR_USAGE'],
    [['--trace', 'x', '--servers', 'y', '--policy', 'nope'], 'WS_ERR_USAGE'],
    [['--trace', 'x', '--servers', 'y', '--copies', '0'], 'WS_ERR_USAGE'],
    [['--trace', 'x', '--servers', 'y', '--usage', '1.5'], 'WS_ERR_USAGE'],
    [['--trace', '/nonexistent.csv', '--servers', 'y'], 'WS_ERR_MODEL_DATA'],
  ] as const)('bad input %j is a typed error', async ([args, code]) => {
    await expect(main([...args])).rejects.toMatchObject({ code });
  });
  test('a trace missing a column names it', async () => {
    const bad = join(dir, 'bad.csv');
    writeFileSync(bad, 'name,cpu_milli\na,1\n');
    await expect(main(['--trace', bad, '--servers', servers])).rejects.toMatchObject({ code: 'WS_ERR_SIM_INPUT', message: expect.stringContaining('memory_mib') });
  });
});

describe('--usage', () => {
  const pods = Array.from({ length: 2000 }, (_, i) => ({ name: `${i}`, cpuMilli: 1000, memoryMiB: 0, createdS: 0, deletedS: 1 }));
  test('a factor scales every request', () => {
    expect([...podUsage(pods.slice(0, 2), parseUsage('0.5'))]).toEqual([500, 500]);
  });
  test('uniform draws stay in range, repeat with the seed, and average the midpoint', () => {
    const u = podUsage(pods, parseUsage('uniform:0.2,0.6'), 4);
    expect(Math.min(...u)).toBeGreaterThanOrEqual(200);
    expect(Math.max(...u)).toBeLessThanOrEqual(600);
    expect([...u]).toEqual([...podUsage(pods, parseUsage('uniform:0.2,0.6'), 4)]);
    expect(u.reduce((a, b) => a + b, 0) / u.length).toBeCloseTo(400, -1);
  });
  test('beta draws average a/(a+b)', () => {
    const u = podUsage(pods, parseUsage('beta:2,3'), 9);
    expect(u.reduce((a, b) => a + b, 0) / u.length / 1000).toBeCloseTo(0.4, 1);
  });
  test.for(['0', '2', 'uniform:0.5,0.2', 'beta:0,1', 'normal:1,2', 'abc'])('rejects %j', (text) => {
    expect(() => parseUsage(text)).toThrow(/--usage/);
  });
});

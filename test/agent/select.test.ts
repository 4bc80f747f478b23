// Which collector runs, and why: eBPF made to fail in each way we can provoke must land on the fallback with that
// reason, exported in the report; collector=ebpf must refuse to start instead.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { collectOnce, parseAgentArgs } from '../../src/agent/command.js';
import { VALUE_FIELDS, defaultAddonPath, loadAddon, packageRoot } from '../../src/agent/collector/addon.js';
import { selectCollector } from '../../src/agent/collector/select.js';
import { isRoot } from './real-cgroups.js';

const addon = loadAddon(defaultAddonPath());
const built = !('error' in addon);
const tmp = mkdtempSync(join(tmpdir(), 'wattsched-select-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function config(env: Record<string, string>) {
  return parseAgentArgs(['--interval', '100ms'], { WATTSCHED_AGENT_KUBERNETES__MODE: 'off', ...env }).config;
}

describe('collector selection', () => {
  test('collector=fallback is honoured and says so', async () => {
    const { collector } = selectCollector(config({ WATTSCHED_AGENT_COLLECTOR: 'fallback' }));
    expect(collector.status()).toMatchObject({ name: 'fallback', reason: 'configured (collector=fallback)' });
    await collector.close();
  });

  test('a missing addon is a reason, not a crash', async () => {
    const { collector } = selectCollector(config({ WATTSCHED_AGENT_EBPF__ADDON_PATH: join(tmp, 'none.node') }));
    expect(collector.name).toBe('fallback');
    expect(collector.status().reason).toContain('native addon not built');
  });

  test('a kernel without BTF is a reason', async () => {
    const { collector } = selectCollector(config({}), { btfPath: join(tmp, 'no-btf') });
    expect(collector.status().reason).toContain('kernel has no BTF');
  });

  test('no cgroup hierarchy at all is a typed error', () => {
    expect(() => selectCollector(config({ WATTSCHED_AGENT_CGROUP__ROOT: tmp }))).toThrow(expect.objectContaining({ code: 'WS_ERR_AGENT_NO_CGROUPS' }));
  });

  test('pure v1 cannot key eBPF by cgroup v2 id: fallback with that reason', async () => {
    const root = join(tmp, 'v1');
    execFileSync('mkdir', ['-p', join(root, 'cpuacct')]);
    writeFileSync(join(root, 'cpuacct', 'cpuacct.usage'), '123\n');
    const { collector, layout } = selectCollector(config({ WATTSCHED_AGENT_CGROUP__ROOT: root }));
    expect(layout.name).toBe('v1');
    expect(collector.status().reason).toContain('no cgroup v2 hierarchy');
    expect(collector.status().variant).toContain('cpuacct');
  });
});

describe.skipIf(!isRoot || !built)(`eBPF forced to fail (root, addon built)${!isRoot ? ' (skipped: needs root)' : !built ? ' (skipped: the native addon is not built: scripts/setup.d/20-bpf-native.sh)' : ''}`, () => {
  test.for([
    { why: 'object path that does not exist', make: () => join(tmp, 'missing.bpf.o'), want: 'cannot read BPF object' },
    { why: 'object file that is not ELF', make: () => (writeFileSync(join(tmp, 'garbage.o'), 'not an ELF file'), join(tmp, 'garbage.o')), want: 'cannot open BPF object' },
  ])('$why: auto falls back with the reason in /v1/node', async ({ make, want }) => {
    const path = make();
    const report = await collectOnce(config({ WATTSCHED_AGENT_EBPF__OBJECT_PATH: path }), {});
    expect(report.collector.name).toBe('fallback');
    expect(report.collector.reason).toContain(want);
    expect(report.collector.attempts.map((a) => a.name)).toEqual([
      'ebpf tp_btf/sched_switch (BPF_PROG_TYPE_TRACING) with exit/flush hooks',
      'ebpf tp_btf/sched_switch (BPF_PROG_TYPE_TRACING)',
      'ebpf raw_tp/sched_switch with exit/flush hooks',
      'ebpf raw_tp/sched_switch',
      'ebpf tp/sched/sched_switch with exit/flush hooks',
      'ebpf tp/sched/sched_switch',
    ]);
    expect(report.counters.cpu_time?.live).toBe(true);
    expect(report.counters.cycles?.live).toBe(false);
    expect(report.cgroups.length).toBeGreaterThan(0);
    expect(report.intervalSeconds).toBeGreaterThan(0.05);
  });

  test('collector=ebpf refuses to start when eBPF cannot load', () => {
    expect(() => selectCollector(config({ WATTSCHED_AGENT_COLLECTOR: 'ebpf', WATTSCHED_AGENT_EBPF__OBJECT_PATH: join(tmp, 'missing.o') }))).toThrow(
      expect.objectContaining({ code: 'WS_ERR_AGENT_EBPF_UNAVAILABLE' }),
    );
  });

  test('auto picks eBPF here and reports which variant and counters are live', async () => {
    const report = await collectOnce(config({}), {});
    expect(report.collector).toMatchObject({ name: 'ebpf', reason: null });
    expect(report.collector.variant).toMatch(/sched_switch.*, exit flush, 10 Hz flush/);
    expect(report.counters.cpu_time?.live).toBe(true);
    expect(report.counters.context_switches?.live).toBe(true);
    // This machine has no PMU; wherever the counter is off it must say why.
    for (const c of ['cycles', 'instructions', 'cache_misses']) {
      const s = report.counters[c];
      expect(s?.detail.length).toBeGreaterThan(0);
    }
    const root = report.cgroups.find((c) => c.path === '/');
    expect(root?.rates.cpuSeconds).toBeGreaterThanOrEqual(0);
  });

  test('the program is detached on destroy and when the holding process is killed', async () => {
    const ids = () =>
      new Set(
        (JSON.parse(execFileSync('bpftool', ['prog', 'show', '-j'], { encoding: 'utf8' })) as { name?: string; id: number }[])
          .filter((p) => p.name?.startsWith('handle_switch'))
          .map((p) => p.id),
      );
    const added = (before: Set<number>) => [...ids()].filter((id) => !before.has(id));
    // The kernel frees a detached program after an RCU grace period, so poll for it to go rather than expect it at once.
    const gone = async (id: number) => {
      for (let i = 0; i < 300 && ids().has(id); i++) await new Promise((r) => setTimeout(r, 10));
      return !ids().has(id);
    };
    const before = ids();
    const { collector } = selectCollector(config({}));
    const ours = added(before);
    expect(ours).toHaveLength(1);
    await collector.close();
    await collector.close(); // twice is fine
    expect(await gone(ours[0]!)).toBe(true);

    const beforeChild = ids();
    const script = `const a = require(${JSON.stringify(defaultAddonPath())}); new a.Session('tp', { maxEntries: 64, pmu: [] }); console.log('ready'); setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let theirs: number[] = [];
    try {
      await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
      theirs = added(beforeChild);
      expect(theirs).toHaveLength(1);
    } finally {
      child.kill('SIGKILL');
    }
    await new Promise((r) => child.once('exit', r));
    expect(await gone(theirs[0]!)).toBe(true);
  });
});

describe.skipIf(!built)(`kernel/user contract${built ? '' : ' (skipped: the native addon is not built: scripts/setup.d/20-bpf-native.sh)'}`, () => {
  test('the addon, the TypeScript decoder and bpf/cgroup_counters.h agree on the value layout', () => {
    if ('error' in addon) return;
    const header = readFileSync(join(packageRoot(), 'bpf', 'cgroup_counters.h'), 'utf8');
    const struct = /struct cg_counters \{([^}]*)\}/.exec(header)?.[1] ?? '';
    const fields = [...struct.matchAll(/__u64 (\w+);/g)].map((m) => m[1]);
    expect(fields).toEqual([...VALUE_FIELDS]);
    expect(addon.addon.layout.fields.split(',')).toEqual([...VALUE_FIELDS]);
    expect(addon.addon.layout.valueBytes).toBe(8 * VALUE_FIELDS.length);
    expect(/#define CG_NFIELDS (\d+)/.exec(header)?.[1]).toBe(String(VALUE_FIELDS.length));
  });
});

const cli = join(packageRoot(), 'dist', 'src', 'cli', 'main.js');
describe.skipIf(!isRoot || !existsSync(cli))(`wattsched agent process (built CLI)${!isRoot ? ' (skipped: needs root)' : !existsSync(cli) ? ' (skipped: needs the built dist/: npm run build)' : ''}`, () => {
  test('--once --json prints a report; SIGTERM on the server detaches and exits 0', async () => {
    const out = execFileSync(process.execPath, [cli, 'agent', '--once', '--json', '--interval', '200ms'], {
      encoding: 'utf8',
      env: { ...process.env, WATTSCHED_AGENT_KUBERNETES__MODE: 'off' },
    });
    const report = JSON.parse(out);
    expect(report.collector.name).toBe(built ? 'ebpf' : 'fallback');
    expect(report.intervalSeconds).toBeGreaterThan(0.15);

    const checkpoint = join(tmp, 'agent-energy.json');
    const server = spawn(process.execPath, [cli, 'agent', '--port', '0', '--host', '127.0.0.1', '--log-level', 'info', '--interval', '200ms'], {
      env: { ...process.env, WATTSCHED_AGENT_KUBERNETES__MODE: 'off', WATTSCHED_AGENT_POWER__CHECKPOINT_PATH: checkpoint },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    const killer = setTimeout(() => server.kill('SIGKILL'), 30_000);
    const port = await new Promise<number>((resolve, reject) => {
      server.stdout.on('data', (d: Buffer) => {
        log += d.toString();
        const m = /listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(log);
        if (m) resolve(Number(m[1]));
      });
      server.once('exit', (code) => reject(new Error(`agent exited ${code}: ${log}`)));
    });
    for (let i = 0; i < 50; i++) {
      const h = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (h.status === 200) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const node = (await (await fetch(`http://127.0.0.1:${port}/v1/node`)).json()) as { node: string };
    expect(node.node.length).toBeGreaterThan(0);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toContain('wattsched_agent_measurement_available{counter="cpu_time"} 1');
    server.kill('SIGTERM');
    const code = await new Promise((r) => server.once('exit', r));
    clearTimeout(killer);
    expect(code).toBe(0);
    expect(log).toContain('shutting down');
  });
});

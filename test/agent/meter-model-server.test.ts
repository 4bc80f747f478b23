// The agent's model layer asking the model server (the real one, in-process on 127.0.0.1:0) for its node's model:
// in the background, cached by version, falling back with the reason, and reporting the source and model id on every
// reading. Node power on this machine is the CPU-time curve model; the reading says so.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import Value from 'typebox/value';
import { ModelMeter, ModelServerCurve, type FileCurveFn, type NodeCurve } from '../../src/agent/meter/model.js';
import { openNodePower } from '../../src/agent/meter/select.js';
import { AgentConfigSchema, type AgentConfig } from '../../src/shared/config/agent.js';
import { loadCurves } from '../../src/model/load-curve.js';
import { OnnxPowerModel } from '../../src/model/power-model.js';
import { fingerprint } from '../../src/model/features.js';
import { GOLD, GOLD_FP, linearCountersModel, linearCpuModel, startModelServer, type RunningModelServer } from '../extender/live/model-server-fixture.js';
import type { CountersEvaluator } from '../../src/agent/meter/counters-child.js';
import { FakeTree } from './fake-sysfs.js';

/** The curve a model file gives this node, scored in-process (the agent does it in a child; compared below). */
const inProcess: FileCurveFn = async (onnx, hw) => {
  const model = await OnnxPowerModel.fromBytes(onnx, 'test');
  try {
    const [r] = await loadCurves(model, [hw]);
    if (r === undefined || 'error' in r) throw new Error(r?.error);
    return [...r.curve];
  } finally {
    await model.close();
  }
};

const FALLBACK: NodeCurve = { curve: [100, 110, 120, 130, 140, 150, 160, 170, 180, 190, 200], id: 'shipped:curve', errorPercent: 20.91, detail: 'description-curve model for fingerprint x' };

let server: RunningModelServer;
beforeAll(async () => {
  server = await startModelServer();
  await server.publish(GOLD_FP, linearCpuModel(40, 0.5));
});
afterAll(async () => server.close());

function refresher(url: string, over: { fingerprint?: string; evaluate?: FileCurveFn } = {}) {
  const meter = new ModelMeter(FALLBACK);
  const r = new ModelServerCurve({ url, fingerprint: over.fingerprint ?? GOLD_FP, hardware: GOLD, timeoutMs: 2000, refreshMs: 600_000, retryMinMs: 5000, retryMaxMs: 300_000, meter, fallback: FALLBACK, evaluate: over.evaluate ?? inProcess });
  return { meter, r };
}

describe('the model server in the agent model layer', () => {
  test('exact fingerprint: its busy-CPU model becomes the node curve; source, id and known error on the reading', async () => {
    const { meter, r } = refresher(server.url);
    expect(await r.refresh()).toBe(600_000);
    // 40 W + 0.5 W per busy CPU on 80 threads: at 25 % load 20 CPUs busy, 40 + 10 = 50 W; idle 40 W.
    const reading = await meter.read({ monotonicNs: 0, cpuUtilisation: 0.25 });
    expect(reading.source).toBe('model');
    expect(reading.watts).toBeCloseTo(50, 4);
    expect(reading.idleWatts).toBeCloseTo(40, 4);
    expect(reading.model).toEqual({ id: `model-server:${GOLD_FP}@v1`, errorPercent: 4.2, detail: `CPU-time curve model: model server exact match for fingerprint ${GOLD_FP}` });
    // Asked again with no new version: nothing downloaded or evaluated again.
    let evaluated = 0;
    const counting = refresher(server.url, { evaluate: async (o, h) => (evaluated++, inProcess(o, h)) });
    await counting.r.refresh();
    await counting.r.refresh();
    expect(evaluated).toBe(1);
    expect(counting.r.stats).toEqual({ ok: 2, failed: 0, unusable: 0 });
  });

  test('a fingerprint with no model of its own: the server chain answers with its description curve', async () => {
    const other = { ...GOLD, cpuModel: 'Intel(R) Xeon(R) Silver 4114 CPU @ 2.20GHz', cores: 20, threads: 40 };
    const meter = new ModelMeter(FALLBACK);
    const r = new ModelServerCurve({ url: server.url, fingerprint: fingerprint(other), hardware: other, timeoutMs: 2000, refreshMs: 600_000, retryMinMs: 5000, retryMaxMs: 300_000, meter, fallback: FALLBACK, evaluate: inProcess });
    await r.refresh();
    expect(meter.curve.id).toBe('model-server:description-curve@v1');
    expect(meter.curve.detail).toBe(`model server description match for fingerprint ${fingerprint(other)}`);
    // The server's description curve is the shipped one: the same curve as the shipped model gives this node.
    const shipped = await OnnxPowerModel.load('models/curve.onnx');
    const [own] = await loadCurves(shipped, [other]);
    await shipped.close();
    expect(meter.curve.curve).toEqual((own as { curve: number[] }).curve);
  });

  test('server down: the fallback stays, the reading says why, retries back off 5 s, 10 s, 20 s', async () => {
    const down = await startModelServer();
    const url = down.url;
    await down.close();
    const { meter, r } = refresher(url);
    expect(await r.refresh()).toBe(5000);
    expect(await r.refresh()).toBe(10_000);
    expect(await r.refresh()).toBe(20_000);
    const reading = await meter.read({ monotonicNs: 0, cpuUtilisation: 0 });
    expect(reading.model?.id).toBe('shipped:curve');
    expect(reading.watts).toBe(100);
    expect(reading.model?.detail).toMatch(/^CPU-time curve model: description-curve model for fingerprint x; model server: .*ECONNREFUSED.* \(retry in 20 s\)$/);
  });

  test('a server that worked and then went away: its last model stays in use, and the detail says the refresh failed', async () => {
    const s = await startModelServer();
    await s.publish(GOLD_FP, linearCpuModel(40, 0.5));
    const { meter, r } = refresher(s.url);
    await r.refresh();
    await s.close();
    expect(await r.refresh()).toBe(5000);
    expect(meter.curve.id).toBe(`model-server:${GOLD_FP}@v1`);
    expect(meter.curve.detail).toMatch(/; last refresh failed: model server: .* \(retry in 5 s\)$/);
  });

  test('a counters model over counters the agent does not read: not used; node power stays on the CPU-time curve', async () => {
    const fp = 'intel-xeon-kepler-agent-s2-c40';
    await server.publish(fp, linearCountersModel({ cpu_seconds_per_s: 1, bpf_block_irq_per_s: 0.01 }, 10));
    const { meter, r } = refresher(server.url, { fingerprint: fp });
    expect(await r.refresh()).toBe(600_000);
    expect(meter.curve.id).toBe('shipped:curve');
    expect(meter.curve.detail).toBe(`description-curve model for fingerprint x; model server offers counters model ${fp}@v1 needs bpf_block_irq_per_s: not a function of CPU load; node power stays on the CPU-time curve`);
    expect(r.stats.unusable).toBe(1);
  });

  describe('a counters model over PMU counters (fed from fixtures: the PMU is not live on this machine)', () => {
    const fp = 'intel-xeon-pmu-agent-s2-c40';
    // watts = 20 + 1 W per busy CPU + 2 W per 10⁹ instructions/s.
    beforeAll(async () => {
      await server.publish(fp, linearCountersModel({ cpu_seconds_per_s: 1, cpu_instructions_per_s: 2e-9 }, 20, 3.5));
    });
    /** Scores rows in-process, as the child process does (compared with the child below), counting them. */
    const inProcessCounters = (rows: number[][]) => async (onnx: Uint8Array): Promise<CountersEvaluator> => {
      const model = await OnnxPowerModel.fromBytes(onnx, 'counters');
      return {
        featureNames: model.featureNames,
        predict: async (row) => {
          rows.push([...row]);
          return (await model.predict(Float32Array.from(row), 1))[0] as number;
        },
        close: () => void model.close(),
      };
    };

    test('live counters: node watts from the model, idle at zero activity; PMU not live: the CPU-time curve, said', async () => {
      const rows: number[][] = [];
      const meter = new ModelMeter(FALLBACK);
      const r = new ModelServerCurve({ url: server.url, fingerprint: fp, hardware: GOLD, timeoutMs: 2000, refreshMs: 600_000, retryMinMs: 5000, retryMaxMs: 300_000, meter, fallback: FALLBACK, evaluate: inProcess, openCounters: inProcessCounters(rows) });
      await r.refresh();
      // 20 busy CPUs and 3 × 10⁹ instructions/s: 20 + 20 + 6 = 46 W; the model at zero activity, 20 W, is idle.
      const live = await meter.read({ monotonicNs: 0, cpuUtilisation: 0.25, counterRates: () => ({ cpu_seconds_per_s: 20, cpu_instructions_per_s: 3e9, cpu_cycles_per_s: 5e9 }) });
      expect(live.watts).toBeCloseTo(46, 4);
      expect(live.idleWatts).toBeCloseTo(20, 5);
      expect(live.model).toEqual({ id: `model-server:${fp}@v1`, errorPercent: 3.5, detail: `counters model (cpu_seconds_per_s, cpu_instructions_per_s): model server exact match for fingerprint ${fp}` });
      expect(rows).toEqual([[0, 0], [20, 3e9]]);
      // This machine: busy CPU only. The fallback curve at 25 %: 125 W, and the reading says why.
      const here = await meter.read({ monotonicNs: 0, cpuUtilisation: 0.25, counterRates: () => ({ cpu_seconds_per_s: 20 }) });
      expect(here.watts).toBeCloseTo(125, 9);
      expect(here.model?.detail).toBe(`CPU-time curve model: description-curve model for fingerprint x; counters model model-server:${fp}@v1 not used this interval: cpu_instructions_per_s not live`);
      // Refreshed with the same version: the running model is kept.
      await r.refresh();
      expect(rows).toHaveLength(2);
      await meter.close();
    });

    test('a counters model that fails mid-run: back on the CPU-time curve in the same interval, never 0', async () => {
      const meter = new ModelMeter(FALLBACK);
      let calls = 0;
      const dying = async (): Promise<CountersEvaluator> => ({
        featureNames: ['cpu_seconds_per_s', 'cpu_instructions_per_s'],
        predict: async () => {
          if (++calls > 1) throw new Error('child exited (SIGKILL)');
          return 20;
        },
        close: () => undefined,
      });
      const r = new ModelServerCurve({ url: server.url, fingerprint: fp, hardware: GOLD, timeoutMs: 2000, refreshMs: 600_000, retryMinMs: 5000, retryMaxMs: 300_000, meter, fallback: FALLBACK, evaluate: inProcess, openCounters: dying });
      await r.refresh();
      const reading = await meter.read({ monotonicNs: 0, cpuUtilisation: 0.5, counterRates: () => ({ cpu_seconds_per_s: 40, cpu_instructions_per_s: 1e9 }) });
      expect(reading.watts).toBe(150);
      expect(reading.model?.detail).toBe(`CPU-time curve model: description-curve model for fingerprint x; counters model model-server:${fp}@v1 failed (child exited (SIGKILL)): back on the CPU-time curve`);
      expect(meter.countersModel).toBeNull();
    });

    const child = resolve('dist/src/agent/meter/counters-child.js');
    test.skipIf(!existsSync(child))(`the long-lived child process (built CLI) gives the in-process watts, and reports its death${existsSync(child) ? '' : ' (skipped: needs the built dist/: npm run build)'}`, async () => {
      const built = (await import(child)) as typeof import('../../src/agent/meter/counters-child.js');
      const { bytes } = linearCountersModel({ cpu_seconds_per_s: 1, cpu_instructions_per_s: 2e-9 }, 20);
      const e = await built.openCountersChild(bytes);
      expect(e.featureNames).toEqual(['cpu_seconds_per_s', 'cpu_instructions_per_s']);
      expect(await e.predict([20, 3e9])).toBeCloseTo(46, 4);
      expect(await e.predict([0, 0])).toBeCloseTo(20, 5);
      e.close();
      await expect(e.predict([1, 1])).rejects.toThrow(/closed|exited/);
    });
  });

  const dist = resolve('dist/src/agent/meter/model.js');
  test.skipIf(!existsSync(dist))(`the agent scores a served model in a child process (built CLI): the same curve as in-process${existsSync(dist) ? '' : ' (skipped: needs the built dist/: npm run build)'}`, async () => {
    const built = (await import(dist)) as typeof import('../../src/agent/meter/model.js');
    const { bytes } = linearCpuModel(40, 0.5);
    expect(await built.fileCurveInChild(bytes, GOLD)).toEqual(await inProcess(bytes, GOLD));
  });
});

const agentCommand = resolve('dist/src/agent/command.js');
test.skipIf(!existsSync(agentCommand) || !existsSync('/proc/self/maps'))(`the agent process does not map onnxruntime: models are scored in child processes${!existsSync(agentCommand) ? ' (skipped: needs the built dist/: npm run build)' : !existsSync('/proc/self/maps') ? ' (skipped: no /proc/self/maps)' : ''}`, () => {
  const out = execFileSync(process.execPath, ['-e', `import(${JSON.stringify(agentCommand)}).then(() => process.stdout.write(String(/onnxruntime/.test(require('fs').readFileSync('/proc/self/maps', 'utf8')))))`], { encoding: 'utf8' });
  expect(out).toBe('false');
});

describe('openNodePower with a model server', () => {
  let tree: FakeTree | undefined;
  afterEach(() => tree?.cleanup());

  test('reports the hardware and its fingerprint, starts on the shipped model and switches to the server in the background', async () => {
    tree = new FakeTree();
    const cpuinfo: string[] = [];
    for (let p = 0; p < 80; p++) cpuinfo.push(`processor\t: ${p}\nvendor_id\t: GenuineIntel\nmodel name\t: ${GOLD.cpuModel}\nphysical id\t: ${p < 40 ? 0 : 1}\ncpu cores\t: 20\n`);
    tree.write('proc/cpuinfo', cpuinfo.join('\n'));
    tree.write('proc/meminfo', 'MemTotal:       402653184 kB');
    tree.write('dmi/bios_date', '05/01/2019');
    const config = Value.Parse(AgentConfigSchema, Value.Default(AgentConfigSchema, { power: { meters: [], procRoot: tree.path('proc'), dmiRoot: tree.path('dmi'), powercapRoot: tree.path('none'), hwmonRoot: tree.path('none') } })) as AgentConfig;
    const power = await openNodePower(config.power, undefined, { modelServerUrl: server.url, evaluate: inProcess });
    try {
      expect(power.hardware).toEqual({ fingerprint: GOLD_FP, description: GOLD, assumed: [] });
      // The first reading does not wait for the server: the shipped model (the embedded curve under vitest, where
      // the compiled child script the shipped model runs in is not beside this source file), or the server's model
      // if it was quicker.
      const first = await power.read({ monotonicNs: 0, cpuUtilisation: 0.25 });
      expect(['shipped:curve', 'embedded:specpower-median', `model-server:${GOLD_FP}@v1`]).toContain(first.model?.id);
      const deadline = Date.now() + 20_000;
      let s = first;
      while (s.model?.id !== `model-server:${GOLD_FP}@v1` && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
        s = await power.read({ monotonicNs: 0, cpuUtilisation: 0.25 });
      }
      expect(s.model?.id).toBe(`model-server:${GOLD_FP}@v1`);
      expect(s.watts).toBeCloseTo(50, 4);
    } finally {
      await power.close();
    }
  });
});

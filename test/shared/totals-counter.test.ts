import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { totalsCounter } from '../../src/shared/totals-counter.js';

async function sample(reg: Registry, name: string): Promise<Record<string, number>> {
  const m = (await reg.getMetricsAsJSON()).find((x) => x.name === name);
  if (!m) throw new Error(`${name} not registered`);
  return Object.fromEntries(m.values.map((v) => [JSON.stringify(v.labels), v.value]));
}

describe('totalsCounter', () => {
  it('exports the owner\'s running totals per label at every scrape, without double counting', async () => {
    const reg = new Registry();
    const totals = { ok: 0, failed: 0 };
    totalsCounter({ name: 't_polls_total', help: 'h', registry: reg, labelName: 'outcome', read: () => totals });
    expect(await sample(reg, 't_polls_total')).toEqual({ '{"outcome":"ok"}': 0, '{"outcome":"failed"}': 0 });
    totals.ok += 3;
    totals.failed += 1;
    expect(await sample(reg, 't_polls_total')).toEqual({ '{"outcome":"ok"}': 3, '{"outcome":"failed"}': 1 });
    // A scrape with nothing new must repeat the totals, not add them again.
    expect(await sample(reg, 't_polls_total')).toEqual({ '{"outcome":"ok"}': 3, '{"outcome":"failed"}': 1 });
    totals.ok += 2;
    expect(await sample(reg, 't_polls_total')).toEqual({ '{"outcome":"ok"}': 5, '{"outcome":"failed"}': 1 });
  });

  it('exports a single unlabelled total', async () => {
    const reg = new Registry();
    let stale = 0;
    totalsCounter({ name: 't_stale_total', help: 'h', registry: reg, read: () => stale });
    stale = 7;
    expect(await sample(reg, 't_stale_total')).toEqual({ '{}': 7 });
    expect((await reg.metrics()).split('\n')).toContain('t_stale_total 7');
  });

  it('refuses per-label totals without a label name', async () => {
    const reg = new Registry();
    totalsCounter({ name: 't_bad_total', help: 'h', registry: reg, read: () => ({ a: 1 }) });
    await expect(reg.metrics()).rejects.toThrow(/labelName/);
  });
});

// Each interval after the counters: node watts from the meter layers, split by the attribution, added to the
// ledger, checkpointed, then written into the report. The only place meters, attribution and ledger meet.
import type { Logger } from 'pino';
import type { NodePower as NodePowerReport, NodeReport } from '../../shared/wire/agent.js';
import { type IdlePolicy, attribute } from '../attribution/attribute.js';
import { type EnergyLedger, writeCheckpoint } from '../attribution/ledger.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gpuWattsByRow, identityOf, intervalRows, rowKey } from '../attribution/rows.js';
import { parseCgroupPath } from '../resource/cgroup-path.js';
import type { NodePower } from '../meter/layers.js';
import { nodeCounterRates } from '../meter/counter-rates.js';
import type { NodeCpuInterval } from '../meter/procstat.js';
import type { MeterInput } from '../meter/types.js';
import type { PodMeta } from '../resource/pods.js';

export interface EnergyOptions {
  power: NodePower;
  /** Node CPU over the interval since the previous call (NodeCpu.read in production). */
  nodeCpu: () => NodeCpuInterval;
  ledger: EnergyLedger;
  policy: IdlePolicy;
  checkpointPath: string | null;
  /** Where /proc/<pid>/cgroup is read to charge GPU processes to their rows. */
  procRoot?: string;
  wallMs?: () => number;
  log?: Logger;
}

/** Unscraped totals are persisted at least this often (a scrape persists first anyway). */
const CHECKPOINT_EVERY_MS = 10_000;

export class EnergyAccounting {
  checkpointFailures = 0;
  private dirty = false;
  private lastWriteMs = Number.NEGATIVE_INFINITY;

  constructor(private readonly opts: EnergyOptions) {}

  get ledger(): EnergyLedger {
    return this.opts.ledger;
  }

  get power(): NodePower {
    return this.opts.power;
  }

  /** Adds node power and each pod's energy to `report`, which it takes over (the caller has not published it yet). */
  async account(report: NodeReport, lookupPod: (uid: string) => PodMeta | undefined, monotonicNs: number): Promise<NodeReport> {
    const cpu = this.opts.nodeCpu();
    let counterRates: Record<string, number> | undefined;
    const input: MeterInput = { monotonicNs, cpuUtilisation: cpu.utilisation };
    // Once per interval, however many meters ask.
    if (report.intervalSeconds > 0) input.counterRates = () => (counterRates ??= nodeCounterRates(report, cpu.busySeconds, report.intervalSeconds));
    const sample = await this.opts.power.read(input);
    const rows = intervalRows(report, lookupPod);
    // Only cpu-request weighs by requests; the other policies skip the lookups and the map.
    const podRequests = new Map<string, number>();
    if (this.opts.policy === 'cpu-request') for (const r of rows) if (r.pod !== null) podRequests.set(r.pod, lookupPod(r.pod)?.cpuRequestCores ?? 0);
    const gpuByKey =
      sample.processes.length === 0
        ? undefined
        : gpuWattsByRow(
            sample.zones.filter((z) => z.source === 'nvidia'),
            sample.processes,
            (pid) => this.rowOfPid(pid, lookupPod),
          );
    const a = attribute({
      nodeWatts: sample.watts,
      idleWatts: sample.idleWatts,
      gpuWatts: sample.additiveWatts,
      ...(gpuByKey === undefined ? {} : { gpuByKey }),
      nodeBusySeconds: cpu.busySeconds,
      consumers: rows,
      podRequests,
      policy: this.opts.policy,
    });
    let charged = 0;
    for (const r of rows) charged += r.cpuSeconds;
    const containers: Parameters<EnergyLedger['apply']>[0]['containers'] = [];
    const system: Parameters<EnergyLedger['apply']>[0]['system'] = [
      { name: 'kernel', watts: a.kernelWatts, cpuSeconds: Math.max(0, cpu.busySeconds - charged), contextSwitches: 0 },
      { name: 'idle', watts: a.idleUnassignedWatts, cpuSeconds: 0, contextSwitches: 0 },
      { name: 'gpu', watts: a.gpuWatts, cpuSeconds: 0, contextSwitches: 0 },
    ];
    rows.forEach((r, i) => {
      const watts = (a.rows[i] as { watts: number }).watts;
      if (r.identity.kind === 'container') {
        const meta = lookupPod(r.identity.podUid);
        containers.push({
          podUid: r.identity.podUid,
          labels: { pod: meta?.name ?? r.identity.podUid, namespace: meta?.namespace ?? '', workload: meta?.workload.id ?? '' },
          container: r.identity.container,
          watts,
          cpuSeconds: r.cpuSeconds,
          contextSwitches: r.contextSwitches,
        });
      } else {
        system.push({ name: r.identity.name, watts, cpuSeconds: r.cpuSeconds, contextSwitches: r.contextSwitches });
      }
    });
    const nowMs = (this.opts.wallMs ?? Date.now)();
    const ledger = this.opts.ledger;
    ledger.apply({ atMs: nowMs, seconds: report.intervalSeconds, containers, system, zones: sample.zones, node: { source: sample.source, watts: sample.watts } });
    this.dirty = true;
    if (nowMs - this.lastWriteMs >= CHECKPOINT_EVERY_MS) this.persist();
    const power: NodePowerReport = {
      source: sample.source,
      watts: sample.watts,
      idleWatts: sample.idleWatts,
      zones: sample.zones,
      model: sample.model ?? null,
      meters: this.opts.power.states(),
      cpuUtilisation: cpu.utilisation,
      busyCpuSeconds: cpu.busySeconds,
      idlePolicy: this.opts.policy,
      residualRatio: ledger.residualRatio(),
      system: [...ledger.system.entries()].map(([name, e]) => ({ name, watts: e.watts, joules: e.joules })),
      ...(this.opts.power.hardware === undefined ? {} : { hardware: this.opts.power.hardware }),
    };
    // The report is this interval's own (buildReport's fresh output, not yet published): filled in place rather than
    // copied pod by pod, which at 200 pods was a fifth of what the agent allocated each interval.
    for (const p of report.pods) {
      const e = ledger.pods.get(p.uid);
      if (e !== undefined) p.energy = { watts: e.watts, joules: e.totals.joules, cpuSecondsTotal: e.totals.cpuSeconds, contextSwitchesTotal: e.totals.contextSwitches };
    }
    report.power = power;
    return report;
  }

  /** The row a process's work belongs to, from its cgroup v2 path; null when the process is gone. */
  private rowOfPid(pid: number, lookupPod: (uid: string) => PodMeta | undefined): string | null {
    let text: string;
    try {
      text = readFileSync(join(this.opts.procRoot ?? '/proc', String(pid), 'cgroup'), 'utf8');
    } catch {
      return null;
    }
    const path = /^0::(.*)$/m.exec(text)?.[1];
    if (path === undefined) return null;
    return rowKey(identityOf(parseCgroupPath(path), path, lookupPod));
  }

  /**
   * Writes the checkpoint if the totals changed since the last write. The HTTP handlers call this before they expose
   * totals, so a value anyone has read is on disk first and cannot come back lower after a restart, even a SIGKILL;
   * writing only then (and every 10 s) instead of every interval keeps an fsync and a rename off the 1 s loop.
   */
  persist(): void {
    if (this.opts.checkpointPath === null || !this.dirty) return;
    const nowMs = (this.opts.wallMs ?? Date.now)();
    try {
      writeCheckpoint(this.opts.checkpointPath, this.opts.ledger, nowMs);
      this.dirty = false;
      this.lastWriteMs = nowMs;
    } catch (err) {
      this.checkpointFailures += 1;
      this.opts.log?.error({ err, path: this.opts.checkpointPath }, 'cannot write the energy checkpoint; totals will not survive a restart');
    }
  }

  async close(): Promise<void> {
    this.persist();
    await this.opts.power.close();
  }
}

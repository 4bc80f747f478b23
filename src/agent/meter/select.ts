// Opens the configured meters best first (ACPI platform meter, RAPL, hwmon), the GPUs beside them, and the model
// layer last, which always opens. Every meter that does not open is kept with its reason for /v1/node.
import { join } from 'node:path';
import type { Logger } from 'pino';
import { Compile } from 'typebox/compile';
import { fingerprint } from '../../model/features.js';
import type { AgentConfig } from '../../shared/config/agent.js';
import { NodeHardwareReportSchema, type NodeHardwareReport } from '../../shared/wire/agent.js';
import { packageRoot } from '../collector/addon.js';
import { monotonicNs } from '../collector/types.js';
import { readHardware } from './hardware.js';
import { HwmonMeter } from './hwmon.js';
import { NodePower } from './layers.js';
import { ModelMeter, ModelServerCurve, chooseNodeCurve, type FileCurveFn } from './model.js';
import { NvidiaMeter } from './nvidia.js';
import { RaplMeter } from './rapl.js';
import { RedfishMeter } from './redfish.js';
import type { Meter, MeterOpen, MeterUnavailable } from './types.js';

const checkHardware = Compile(NodeHardwareReportSchema);

export interface NodeModelOptions {
  /** The model server to ask (power.model.server.url, else push.url); none: not asked. */
  modelServerUrl?: string | undefined;
  /** push.fingerprint when set: the model server keys this node's models by it. */
  fingerprint?: string | undefined;
  /** GPU model for the fingerprint (push.gpuModel). */
  gpuModel?: string | undefined;
  /** How a model file becomes a curve (default: in a child process). */
  evaluate?: FileCurveFn;
}

export async function openNodePower(power: AgentConfig['power'], log?: Logger, models: NodeModelOptions = {}): Promise<NodePower> {
  const layers: Meter[] = [];
  const additive: Meter[] = [];
  const unavailable: MeterUnavailable[] = [];
  const take = (o: MeterOpen, into: Meter[]): void => {
    if ('meter' in o) into.push(o.meter);
    else {
      unavailable.push(o.unavailable);
      log?.info({ meter: o.unavailable.name, reason: o.unavailable.reason }, 'power meter unavailable');
    }
  };
  for (const m of power.meters) {
    const now = monotonicNs();
    if (m === 'redfish') {
      const r = power.redfish;
      if (r.url === undefined) continue; // not configured: not a meter this node has
      if (r.credentialsFile === undefined) {
        unavailable.push({ name: 'redfish', reason: 'power.redfish.url is set but power.redfish.credentialsFile is not' });
        continue;
      }
      if (r.insecure) log?.warn({ url: r.url }, 'Redfish certificate checks are off (power.redfish.insecure)');
      take(await RedfishMeter.open({ ...r, url: r.url, credentialsFile: r.credentialsFile }), layers);
    } else if (m === 'acpi') take(HwmonMeter.open(power.hwmonRoot, 'acpi', now), layers);
    else if (m === 'rapl') take(RaplMeter.open(power.powercapRoot, now), layers);
    else if (m === 'hwmon') take(HwmonMeter.open(power.hwmonRoot, 'hwmon', now), layers);
    else take(await NvidiaMeter.open(power.nvidia), additive);
  }
  const hw = readHardware({ procRoot: power.procRoot, dmiRoot: power.dmiRoot, defaultYear: power.model.defaultYear });
  const curve = await chooseNodeCurve(hw.hardware, {
    configured: power.model.curve,
    modelsDir: power.model.modelsDir ?? join(packageRoot(), 'models'),
    ...(log === undefined ? {} : { log }),
  });
  if (hw.assumed.length > 0) curve.detail += `; assumed ${hw.assumed.join(', ')}`;
  log?.info({ model: curve.id, curve: curve.curve, hardware: hw.hardware, detail: curve.detail }, 'node power model');
  const modelMeter = new ModelMeter(curve, log);
  layers.push(modelMeter);
  const fp = models.fingerprint ?? fingerprint({ ...hw.hardware, ...(models.gpuModel === undefined ? {} : { gpuModel: models.gpuModel }) });
  const report: NodeHardwareReport = { fingerprint: fp, description: hw.hardware, assumed: hw.assumed };
  // A description the wire would refuse (an odd cpuinfo) is left out of the report, so the report stays readable.
  const reportable = checkHardware.Check(report);
  if (!reportable) log?.warn({ fingerprint: fp, hardware: hw.hardware }, 'hardware description not reportable; the extender and the model server cannot key a model on it');
  const m = power.model.server;
  if (models.modelServerUrl !== undefined && power.model.curve === undefined) {
    if (!reportable) log?.warn('model server not asked: no valid fingerprint');
    else {
      modelMeter.follow(
        new ModelServerCurve({
          url: models.modelServerUrl,
          fingerprint: fp,
          hardware: hw.hardware,
          timeoutMs: m.timeoutMs,
          refreshMs: m.refreshSeconds * 1000,
          retryMinMs: m.retryMinSeconds * 1000,
          retryMaxMs: Math.max(m.retryMinSeconds, m.retryMaxSeconds) * 1000,
          meter: modelMeter,
          fallback: curve,
          ...(models.evaluate === undefined ? {} : { evaluate: models.evaluate }),
          log,
        }),
      );
    }
  }
  return new NodePower(layers, additive, unavailable, log, reportable ? report : undefined);
}

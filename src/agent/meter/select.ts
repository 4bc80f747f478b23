// Opens the configured meters best first (ACPI platform meter, RAPL, hwmon), the GPUs beside them, and the model
// layer last, which always opens. Every meter that does not open is kept with its reason for /v1/node.
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { AgentConfig } from '../../shared/config/agent.js';
import { packageRoot } from '../collector/addon.js';
import { monotonicNs } from '../collector/types.js';
import { readHardware } from './hardware.js';
import { HwmonMeter } from './hwmon.js';
import { NodePower } from './layers.js';
import { ModelMeter, chooseNodeCurve } from './model.js';
import { NvidiaMeter } from './nvidia.js';
import { RaplMeter } from './rapl.js';
import { RedfishMeter } from './redfish.js';
import type { Meter, MeterOpen, MeterUnavailable } from './types.js';

export async function openNodePower(power: AgentConfig['power'], log?: Logger): Promise<NodePower> {
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
  layers.push(new ModelMeter(curve));
  return new NodePower(layers, additive, unavailable, log);
}

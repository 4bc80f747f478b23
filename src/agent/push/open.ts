// Builds the push from the agent's config: the client, the hardware fingerprint the model server keys models by
// (the same fingerprint() the server and the shipped models use), and the pusher. Null when push.url is unset.
import type { Logger } from 'pino';
import { fingerprint } from '../../model/features.js';
import type { AgentConfig } from '../../shared/config/agent.js';
import { WS_ERR_CONFIG_INVALID } from '../../shared/errors.js';
import { readHardware } from '../meter/hardware.js';
import { ModelServerClient } from './client.js';
import { Pusher } from './pusher.js';

export interface OpenedPush {
  pusher: Pusher;
  client: ModelServerClient;
  fingerprint: string;
}

/** The model server's rule for a fingerprint (FingerprintSchema in src/shared/wire/model.ts). */
const FINGERPRINT = /^[a-z0-9][a-z0-9._-]{0,127}$/;

export function openPush(config: AgentConfig, node: string, log?: Logger): OpenedPush | null {
  const p = config.push;
  if (p.url === undefined) return null;
  const hw = readHardware({ procRoot: config.power.procRoot, dmiRoot: config.power.dmiRoot, defaultYear: config.power.model.defaultYear }).hardware;
  const hardware = { cpuModel: hw.cpuModel, sockets: hw.sockets, cores: hw.cores, ...(p.gpuModel === undefined ? {} : { gpuModel: p.gpuModel }) };
  const fp = p.fingerprint ?? fingerprint(hardware);
  // Checked before anything is sent: the server would refuse every batch (400) and the agent drop them all.
  if (!FINGERPRINT.test(fp)) throw new WS_ERR_CONFIG_INVALID(`  - push: the fingerprint '${fp.slice(0, 200)}' from this node's hardware is not 1-128 characters of a-z 0-9 . _ -: set push.fingerprint`);
  const client = new ModelServerClient({ url: p.url, tokenFile: p.tokenFile, caFile: p.caFile, certFile: p.certFile, keyFile: p.keyFile, timeoutMs: p.timeoutMs });
  const pusher = new Pusher({
    client,
    fingerprint: fp,
    hardware,
    node,
    windowSeconds: p.windowMs / 1000,
    gpuModelKnown: p.gpuModel !== undefined,
    intervalMs: p.intervalMs,
    batchSize: p.batchSize,
    maxQueuedWindows: p.maxQueuedWindows,
    initialBackoffMs: p.initialBackoffMs,
    maxBackoffMs: p.maxBackoffMs,
    ...(log === undefined ? {} : { log }),
  });
  log?.info({ url: client.url, fingerprint: fp, windowMs: p.windowMs, intervalMs: p.intervalMs, auth: p.tokenFile !== undefined ? 'token' : 'client certificate' }, 'pushing metered windows to the model server');
  return { pusher, client, fingerprint: fp };
}

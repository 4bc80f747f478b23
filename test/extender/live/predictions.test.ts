// Prediction error: the marginal watts the scorer predicted for a pod on the node it runs on, against the watts that
// node's agent attributes to it once it has settled (the third report carrying it).
import { describe, expect, test } from 'vitest';
import { Registry } from 'prom-client';
import { create } from '../../../src/extender/live/scorer.js';
import { MemoryProfileStore } from '../../../src/extender/profiles/store.js';
import { TelemetryStore } from '../../../src/extender/telemetry/node-telemetry.js';
import { ingest } from '../../../src/extender/telemetry/agent-feed.js';
import { PredictionLedger } from '../../../src/extender/telemetry/predictions.js';
import { podDemand } from '../../../src/extender/protocol/pod.js';
import { nodeReport, pendingPod } from './fixtures.js';

describe('prediction error', () => {
  test('compared on the node the pod runs on, once, after it settles', async () => {
    const telemetry = new TelemetryStore(60_000);
    const profiles = new MemoryProfileStore({ halfLifeSeconds: 3600, maxWorkloads: 10, maxBytes: 1 << 20, maxSamplesPerWorkload: 10, minEffectiveSamples: 1 });
    const predictions = new PredictionLedger(100);
    const registry = new Registry();
    predictions.registerMetrics(registry);
    const scorer = create({ curves: { nodeLabel: 'x', byLabelValue: {}, emptyNodes: 'idle' }, telemetry, profiles, predictions, now: () => 0 });
    const curve = (c: string) => ({ 'wattsched.io/power-curve': c });
    const nodes = [
      { name: 'a', labels: {}, annotations: curve('100,110,120,130,140,150,160,170,180,190,200'), allocatableMilliCPU: 4000, requestedMilliCPU: 0 },
      { name: 'b', labels: {}, annotations: curve('100,120,140,160,180,200,220,240,260,280,300'), allocatableMilliCPU: 4000, requestedMilliCPU: 0 },
    ];
    const pod = pendingPod('web-1', 'web', { request: '1' });
    // Predicted: 25 W on a, 50 W on b.
    await scorer.score(podDemand(pod as never), nodes);
    const running = [{ uid: pod.metadata.uid, namespace: 'shop', name: 'web-1', deployment: 'web', cores: 0.8, watts: 20 }];
    // Reported from node a: the prediction for a (25 W) is compared with 20 W on the third report: |25 − 20| / 20.
    expect(predictions.observe(pod.metadata.uid, 'elsewhere', 20)).toBeUndefined();
    ingest(nodeReport('a', 0.2, 120, running), 1, 'x', telemetry, profiles, predictions);
    ingest(nodeReport('a', 0.2, 120, running), 2, 'x', telemetry, profiles, predictions);
    expect(predictions.outcomes).toEqual([]);
    ingest(nodeReport('a', 0.2, 120, running), 3, 'x', telemetry, profiles, predictions);
    expect(predictions.outcomes).toEqual([{ uid: pod.metadata.uid, node: 'a', predictedWatts: expect.closeTo(25, 9), observedWatts: 20, errorRatio: expect.closeTo(0.25, 9) }]);
    // Settled once: later reports add nothing.
    ingest(nodeReport('a', 0.2, 120, running), 4, 'x', telemetry, profiles, predictions);
    expect(predictions.outcomes).toHaveLength(1);
    const text = await registry.metrics();
    expect(text).toMatch(/wattsched_prediction_error_ratio_count 1\b/);
    expect(text).toMatch(/wattsched_prediction_error_ratio_bucket\{le="0.3"\} 1\b/);
    expect(text).toMatch(/wattsched_prediction_error_ratio_bucket\{le="0.2"\} 0\b/);
  });

  test('a bare request without a Pod object (power budgets) is not recorded', async () => {
    const predictions = new PredictionLedger(100);
    const scorer = create({ curves: { nodeLabel: 'x', byLabelValue: {}, emptyNodes: 'idle' }, telemetry: new TelemetryStore(1000), profiles: new MemoryProfileStore({ halfLifeSeconds: 1, maxWorkloads: 1, maxBytes: 4096, maxSamplesPerWorkload: 1, minEffectiveSamples: 1 }), predictions });
    await scorer.score({ namespace: 'n', name: 'p', uid: 'u', cpuMilli: 0 }, [{ name: 'a', labels: {}, annotations: {}, allocatableMilliCPU: 1000, requestedMilliCPU: 0 }]);
    expect(predictions.size()).toBe(0);
  });
});

// Worker-thread entry of a retrain (see retrain.ts): one job in, one answer out, then the thread exits.
import { parentPort, workerData } from 'node:worker_threads';
import { runRetrainJob, type RetrainJob } from './retrain.js';

const port = parentPort;
if (!port) throw new Error('retrain-worker.js runs only as a worker thread');
try {
  const work = await runRetrainJob(workerData as RetrainJob);
  port.postMessage({ ok: true, work });
} catch (err) {
  port.postMessage({ ok: false, message: (err as Error).stack ?? String(err) });
}

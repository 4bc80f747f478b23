// A counters model scored every interval in one long-lived child process (curve-child.js --serve): onnxruntime
// stays out of the agent's own memory (+37 MB resident measured), and a child that dies or stops answering takes
// only the counters model with it: the caller goes back to the CPU-time curve and says why.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** A counters model: node watts (its outputs summed, e.g. package + dram) from one row of counter rates. */
export interface CountersEvaluator {
  readonly featureNames: readonly string[];
  predict(row: readonly number[]): Promise<number>;
  close(): void;
}

export type OpenCountersFn = (onnx: Uint8Array) => Promise<CountersEvaluator>;

/** Seconds a child may take to load the model, and to answer one row. */
const READY_TIMEOUT_MS = 60_000;
const ANSWER_TIMEOUT_MS = 5_000;

export const openCountersChild: OpenCountersFn = async (onnx) => {
  const script = join(dirname(fileURLToPath(import.meta.url)), 'curve-child.js');
  if (!existsSync(script)) throw new Error(`${script} not built`);
  const dir = mkdtempSync(join(tmpdir(), 'wattsched-counters-'));
  const file = join(dir, 'model.onnx');
  writeFileSync(file, onnx);
  const child: ChildProcess = spawn(process.execPath, [script, '--serve', file], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })[Symbol.asyncIterator]();
  let exited: string | null = null;
  const kill = (why: string): void => {
    exited ??= why;
    child.kill('SIGKILL');
  };
  child.once('exit', (code, signal) => (exited ??= `counters model child exited (${code ?? signal})${stderr ? `: ${stderr.trim()}` : ''}`));
  const next = async (timeoutMs: number): Promise<Record<string, unknown>> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`counters model child gave no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const r = await Promise.race([lines.next(), timeout]);
      if (r.done) throw new Error(exited ?? 'counters model child closed its output');
      return JSON.parse(r.value) as Record<string, unknown>;
    } finally {
      clearTimeout(timer);
    }
  };
  let ready: Record<string, unknown>;
  try {
    ready = await next(READY_TIMEOUT_MS);
  } catch (err) {
    kill('not ready');
    throw err;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const featureNames = ready.featureNames as string[];
  // One row at a time, in order: readings are sequential anyway, and lines pair with requests.
  let queue: Promise<unknown> = Promise.resolve();
  return {
    featureNames,
    predict(row) {
      const run = queue.then(async () => {
        if (exited !== null) throw new Error(exited);
        child.stdin?.write(`${JSON.stringify([row])}\n`);
        try {
          const a = await next(ANSWER_TIMEOUT_MS);
          if (typeof a.error === 'string') throw new Error(a.error);
          return (a.watts as number[]).reduce((x, y) => x + y, 0);
        } catch (err) {
          kill((err as Error).message);
          throw err;
        }
      });
      queue = run.catch(() => undefined);
      return run;
    },
    close() {
      if (exited === null) {
        exited = 'closed';
        child.stdin?.end();
        child.kill();
      }
    },
  };
};

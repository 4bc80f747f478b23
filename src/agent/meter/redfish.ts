// A Redfish BMC (HTTPS) as a whole-platform meter. The BMC answers in hundreds of milliseconds at best, so it is
// polled in the background at its own period and read() returns the latest reading; a poll that fails waits twice as
// long before the next (up to maxBackoffMs), and a reading older than staleAfterMs makes read() throw, so the next
// layer takes over. Credentials come from a file ("user:password" or {"username","password"}), never from config.
// Power: Chassis/{id}/EnvironmentMetrics PowerWatts.Reading (Redfish 2020.4+), else the older Chassis/{id}/Power
// PowerControl[0].PowerConsumedWatts; the chassis is the configured one or the first member of /redfish/v1/Chassis.
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import type { Meter, MeterOpen, PowerReading } from './types.js';

export interface RedfishOptions {
  /** https://bmc.example:443 */
  url: string;
  credentialsFile: string;
  /** e.g. /redfish/v1/Chassis/1; discovered when absent. */
  chassis?: string | undefined;
  /** PEM CA bundle for a BMC with its own certificate authority. */
  caFile?: string | undefined;
  /** Accept any certificate (BMCs with self-signed certificates); logged as such. */
  insecure: boolean;
  timeoutMs: number;
  periodMs: number;
  maxBackoffMs: number;
  staleAfterMs: number;
}

/** Pure: "user:password" or {"username","password"}. */
export function parseCredentials(text: string): { username: string; password: string } {
  const t = text.trim();
  if (t.startsWith('{')) {
    const j = JSON.parse(t) as { username?: unknown; password?: unknown };
    if (typeof j.username === 'string' && typeof j.password === 'string') return { username: j.username, password: j.password };
    throw new Error('credentials JSON needs string "username" and "password"');
  }
  const i = t.indexOf(':');
  if (i <= 0) throw new Error('credentials file is neither "user:password" nor JSON');
  return { username: t.slice(0, i), password: t.slice(i + 1) };
}

/** Pure: watts from an EnvironmentMetrics or a Power resource; null when neither shape carries a number. */
export function wattsOf(body: unknown): number | null {
  const b = body as { PowerWatts?: { Reading?: unknown }; PowerControl?: { PowerConsumedWatts?: unknown }[] };
  const reading = b?.PowerWatts?.Reading ?? b?.PowerControl?.[0]?.PowerConsumedWatts;
  return typeof reading === 'number' && Number.isFinite(reading) && reading >= 0 ? reading : null;
}

type Get = (path: string) => Promise<unknown>;

function httpsGetter(o: RedfishOptions): Get {
  const { username, password } = parseCredentials(readFileSync(o.credentialsFile, 'utf8'));
  const auth = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  const ca = o.caFile === undefined ? undefined : readFileSync(o.caFile);
  const base = new URL(o.url);
  return (path) =>
    new Promise((resolve, reject) => {
      const req = request(
        new URL(path, base),
        { method: 'GET', headers: { authorization: auth, accept: 'application/json' }, timeout: o.timeoutMs, rejectUnauthorized: !o.insecure, ...(ca ? { ca } : {}) },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => {
            if (body.length < 1_000_000) body += d;
          });
          res.on('end', () => {
            if (res.statusCode !== 200) return reject(new Error(`GET ${path}: HTTP ${res.statusCode}`));
            try {
              resolve(JSON.parse(body));
            } catch {
              reject(new Error(`GET ${path}: not JSON`));
            }
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`GET ${path}: no answer within ${o.timeoutMs} ms`)));
      req.on('error', reject);
      req.end();
    });
}

export class RedfishMeter implements Meter {
  readonly name = 'redfish';
  readonly source = 'redfish' as const;
  readonly platform = true;
  private last: { watts: number; atMs: number } | null = null;
  private lastError: string | null = null;
  private delayMs: number;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(private readonly get: Get, private readonly powerPaths: string[], private readonly o: RedfishOptions) {
    this.delayMs = o.periodMs;
  }

  /** Finds the chassis and its power resource, takes the first reading, then polls in the background. */
  static async open(o: RedfishOptions, getter?: Get): Promise<MeterOpen> {
    try {
      const get = getter ?? httpsGetter(o);
      let chassis = o.chassis;
      if (chassis === undefined) {
        const list = (await get('/redfish/v1/Chassis')) as { Members?: { '@odata.id'?: string }[] };
        chassis = list.Members?.[0]?.['@odata.id'];
        if (chassis === undefined) throw new Error('/redfish/v1/Chassis has no members');
      }
      const candidates = [`${chassis}/EnvironmentMetrics`, `${chassis}/Power`];
      const why: string[] = [];
      for (const path of candidates) {
        let w: number | null = null;
        try {
          w = wattsOf(await get(path));
        } catch (err) {
          why.push((err as Error).message);
          continue;
        }
        if (w === null) {
          why.push(`${path}: no power reading`);
          continue;
        }
        const m = new RedfishMeter(get, [path], o);
        m.last = { watts: w, atMs: performance.now() };
        m.schedule();
        return { meter: m };
      }
      throw new Error(why.join('; '));
    } catch (err) {
      return { unavailable: { name: 'redfish', reason: `${o.url}: ${(err as Error).message}` } };
    }
  }

  private schedule(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => void this.poll(), this.delayMs);
    this.timer.unref();
  }

  private async poll(): Promise<void> {
    try {
      const w = wattsOf(await this.get(this.powerPaths[0] as string));
      if (w === null) throw new Error(`${this.powerPaths[0]}: no power reading`);
      this.last = { watts: w, atMs: performance.now() };
      this.lastError = null;
      this.delayMs = this.o.periodMs;
    } catch (err) {
      this.lastError = (err as Error).message;
      this.delayMs = Math.min(this.o.maxBackoffMs, this.delayMs * 2);
    }
    this.schedule();
  }

  async read(): Promise<PowerReading> {
    const ageMs = this.last === null ? Number.POSITIVE_INFINITY : performance.now() - this.last.atMs;
    if (this.last === null || ageMs > this.o.staleAfterMs) {
      throw new Error(`redfish reading ${Math.round(ageMs)} ms old${this.lastError ? ` (${this.lastError})` : ''}`);
    }
    return { source: 'redfish', watts: this.last.watts, zones: [{ zone: 'platform', watts: this.last.watts, inTotal: true }] };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
  }
}

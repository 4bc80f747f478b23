import { Counter, type Registry } from 'prom-client';

/**
 * A prom-client Counter that reports running totals its owner keeps as plain numbers, read at scrape time, so the
 * code that counts makes no metric calls. With `labelName`, `read` gives a total per label value; without, one total.
 * The totals must only grow (the owner never resets them), which keeps the exported counter monotonic.
 */
export function totalsCounter(o: {
  name: string;
  help: string;
  registry: Registry;
  labelName?: string;
  read: () => Readonly<Record<string, number>> | number;
}): Counter {
  const labelName = o.labelName;
  return new Counter({
    name: o.name,
    help: o.help,
    labelNames: labelName === undefined ? [] : [labelName],
    registers: [o.registry],
    collect() {
      const totals = o.read();
      this.reset();
      if (typeof totals === 'number') {
        this.inc(totals);
        return;
      }
      if (labelName === undefined) throw new TypeError(`${o.name}: per-label totals need a labelName`);
      for (const [value, total] of Object.entries(totals)) this.inc({ [labelName]: value }, total);
    },
  });
}

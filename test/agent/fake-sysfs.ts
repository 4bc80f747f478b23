// Fake sysfs/procfs trees for the meter tests: plain files under a temporary directory, removed afterwards.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export class FakeTree {
  readonly root: string;

  constructor(prefix = 'wattsched-t9-sysfs-') {
    this.root = mkdtempSync(join(tmpdir(), prefix));
    // Readable by other users too: the permission test reads it as nobody.
    chmodSync(this.root, 0o755);
  }

  write(rel: string, content: string | number, mode = 0o644): string {
    const path = join(this.root, rel);
    mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
    writeFileSync(path, `${content}\n`);
    chmodSync(path, mode);
    return path;
  }

  path(rel: string): string {
    return join(this.root, rel);
  }

  remove(rel: string): void {
    rmSync(join(this.root, rel), { recursive: true, force: true });
  }

  cleanup(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** A powercap zone directory with name, energy_uj and (optionally) max_energy_range_uj. */
export function raplZone(t: FakeTree, dir: string, name: string, energyUj: number, maxUj: number | null = 262143328850): void {
  t.write(`${dir}/name`, name);
  t.write(`${dir}/energy_uj`, energyUj);
  if (maxUj !== null) t.write(`${dir}/max_energy_range_uj`, maxUj);
}

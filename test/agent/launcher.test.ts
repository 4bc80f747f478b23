// bin/wattsched, the command users and the image run: which node flags it passes for each subcommand. A stand-in
// `node` first on PATH prints the arguments it was given, so the test sees exactly what the launcher execs.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { packageRoot } from '../../src/agent/collector/addon.js';

const launcher = join(packageRoot(), 'bin', 'wattsched');
const main = resolve(packageRoot(), 'dist/src/cli/main.js');
const fake = mkdtempSync(join(tmpdir(), 'wattsched-launcher-'));
writeFileSync(join(fake, 'node'), '#!/bin/sh\nprintf "%s\\n" "$@"\n');
chmodSync(join(fake, 'node'), 0o755);
afterAll(() => rmSync(fake, { recursive: true, force: true }));

function argsOf(argv: string[], nodeOptions = '', via = launcher): string[] {
  const out = execFileSync(via, argv, { env: { ...process.env, PATH: `${fake}:${process.env.PATH}`, NODE_OPTIONS: nodeOptions }, encoding: 'utf8' });
  return out.trim().split('\n');
}

describe('bin/wattsched', () => {
  test('the agent runs V8 single-threaded with a 1 MiB semi-space (its CPU and RSS targets are measured so); other commands get node as is', () => {
    expect(argsOf(['agent', '--once'])).toEqual(['--single-threaded', '--max-semi-space-size=1', main, 'agent', '--once']);
    expect(argsOf(['extender', '--port', '0'])).toEqual([main, 'extender', '--port', '0']);
    expect(argsOf([])).toEqual([main]);
  });

  test('a semi-space size the operator set in NODE_OPTIONS wins (the launcher adds none)', () => {
    expect(argsOf(['agent'], '--max-semi-space-size=8')).toEqual(['--single-threaded', main, 'agent']);
    expect(argsOf(['agent'], '--enable-source-maps')).toEqual(['--single-threaded', '--max-semi-space-size=1', main, 'agent']);
  });

  test('found through a symlink, as npm installs bins, it still finds the CLI next to itself', () => {
    const link = join(fake, 'wattsched');
    symlinkSync(launcher, link);
    expect(argsOf(['agent'], '', link)).toEqual(['--single-threaded', '--max-semi-space-size=1', main, 'agent']);
  });
});

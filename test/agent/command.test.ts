import { describe, expect, test } from 'vitest';
import { parseAgentArgs, parseDurationMs } from '../../src/agent/command.js';

describe('agent command line', () => {
  test.for([
    ['1s', 1000],
    ['500ms', 500],
    ['2m', 120_000],
    ['1.5s', 1500],
    ['3', 3000],
  ] as const)('duration %s = %i ms', ([text, ms]) => {
    expect(parseDurationMs(text)).toBe(ms);
  });

  test.for(['', 'fast', '1 s', '-1s', '1d'])('bad duration %j is a usage error', (text) => {
    expect(() => parseDurationMs(text)).toThrow(expect.objectContaining({ code: 'WS_ERR_USAGE' }));
  });

  test('flags override environment, which overrides defaults', () => {
    const { config, once, json } = parseAgentArgs(['--port', '9999', '--interval', '250ms', '--once', '--json'], {
      WATTSCHED_AGENT_PORT: '1234',
      WATTSCHED_AGENT_COLLECTOR: 'fallback',
      WATTSCHED_AGENT_EBPF__OBJECT_PATH: '/tmp/x.o',
    });
    expect(config.port).toBe(9999);
    expect(config.intervalMs).toBe(250);
    expect(config.collector).toBe('fallback');
    expect(config.ebpf.objectPath).toBe('/tmp/x.o');
    expect(config.ebpf.maxCgroups).toBe(16384);
    expect([once, json]).toEqual([true, true]);
  });

  test('defaults: port 9102, 1 s, auto', () => {
    const { config } = parseAgentArgs([], {});
    expect([config.port, config.intervalMs, config.collector, config.cgroup.root]).toEqual([9102, 1000, 'auto', '/sys/fs/cgroup']);
  });

  test.for([
    { argv: ['--port', 'http'], code: 'WS_ERR_CONFIG_INVALID' },
    { argv: ['--collector', 'magic'], code: 'WS_ERR_CONFIG_INVALID' },
    { argv: ['--interval', '10ms'], code: 'WS_ERR_CONFIG_INVALID' },
    { argv: ['--bogus'], code: 'WS_ERR_USAGE' },
    { argv: ['extra'], code: 'WS_ERR_USAGE' },
  ])('$argv is rejected with $code', ({ argv, code }) => {
    expect(() => parseAgentArgs(argv, {})).toThrow(expect.objectContaining({ code }));
  });
});

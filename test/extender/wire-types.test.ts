// The wire types are inferred from the TypeBox schemas; these checks pin them to extender/v1's Go field names and
// kinds so a schema edit cannot drift from the protocol unnoticed (tsc runs them as part of the test command).
import { describe, expectTypeOf, test } from 'vitest';
import type { ExtenderArgs, ExtenderFilterResult, ExtenderPreemptionResult, HostPriority, MetaVictims } from '../../src/shared/wire/extender.js';

describe('wire types match k8s.io/kube-scheduler/extender/v1', () => {
  test('ExtenderArgs{Pod, Nodes, NodeNames}', () => {
    expectTypeOf<keyof ExtenderArgs>().toEqualTypeOf<'Pod' | 'Nodes' | 'NodeNames'>();
    expectTypeOf<ExtenderArgs['NodeNames']>().toEqualTypeOf<string[] | null | undefined>();
  });
  test('ExtenderFilterResult{Nodes, NodeNames, FailedNodes, FailedAndUnresolvableNodes, Error}', () => {
    expectTypeOf<keyof ExtenderFilterResult>().toEqualTypeOf<'Nodes' | 'NodeNames' | 'FailedNodes' | 'FailedAndUnresolvableNodes' | 'Error'>();
    expectTypeOf<ExtenderFilterResult['FailedNodes']>().toEqualTypeOf<Record<string, string>>();
    expectTypeOf<ExtenderFilterResult['Error']>().toEqualTypeOf<string>();
  });
  test('HostPriority{Host, Score}', () => {
    expectTypeOf<HostPriority>().toEqualTypeOf<{ Host: string; Score: number }>();
  });
  test('ExtenderPreemptionResult{NodeNameToMetaVictims}', () => {
    expectTypeOf<keyof ExtenderPreemptionResult>().toEqualTypeOf<'NodeNameToMetaVictims'>();
    expectTypeOf<MetaVictims['Pods']>().toEqualTypeOf<{ UID: string }[] | null>();
  });
});

// charts/wattsched/values.schema.json must be exactly what the generator makes from the config schemas in
// src/shared/config/ today: a config field added there without re-running the generator fails here.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Value from 'typebox/value';
import { describe, expect, it } from 'vitest';
import { componentSchema, render } from '../../charts/gen-values-schema.mjs';
import { AgentConfigSchema } from '../../src/shared/config/agent.js';
import { ExtenderConfigSchema } from '../../src/shared/config/extender.js';
import { ModelServerConfigSchema } from '../../src/shared/config/model-server.js';
import { REPO } from './helm.js';

const schemas = { agent: AgentConfigSchema, extender: ExtenderConfigSchema, modelServer: ModelServerConfigSchema };

describe('values.schema.json', () => {
  it('equals what charts/gen-values-schema.mjs generates from src/shared/config (re-run it after a schema change)', () => {
    const committed = readFileSync(join(REPO, 'charts/wattsched/values.schema.json'), 'utf8');
    expect(committed).toBe(render(schemas));
  });

  it('carries each component schema whole, so every config key and bound the component checks is checked by Helm', () => {
    const values = JSON.parse(readFileSync(join(REPO, 'charts/wattsched/values.schema.json'), 'utf8'));
    for (const [key, schema] of [['agent', AgentConfigSchema], ['extender', ExtenderConfigSchema], ['modelServer', ModelServerConfigSchema]] as const) {
      const block = values.properties[key].properties.config;
      expect(Object.keys(block.properties).sort()).toEqual(Object.keys(schema.properties).sort());
      expect(block.additionalProperties).toBe(false);
    }
  });

  it('requires only what has no default: an empty config block is valid, as the component fills defaults', () => {
    const ext = componentSchema(ExtenderConfigSchema);
    expect(ext.required).toBeUndefined();
    expect(Value.Check(ext, {})).toBe(true);
    // A static node has no default name or allocatable CPU: still required inside the generated block.
    expect(Value.Check(ext, { nodes: [{ name: 'a' }] })).toBe(false);
    expect(Value.Check(ext, { nodes: [{ name: 'a', allocatableMilliCPU: 1000 }] })).toBe(true);
    expect(Value.Check(componentSchema(AgentConfigSchema), { bogus: 1 })).toBe(false);
    expect(Value.Check(componentSchema(ModelServerConfigSchema), { retrain: { holdOutFraction: 1 } })).toBe(false);
  });
});

// Types of charts/gen-values-schema.mjs for the TypeScript tests that import it.
export interface ComponentSchemas {
  agent: unknown;
  extender: unknown;
  modelServer: unknown;
}
export function componentSchema(schema: unknown): Record<string, unknown>;
export function valuesSchema(schemas: ComponentSchemas): Record<string, unknown>;
export function render(schemas: ComponentSchemas): string;

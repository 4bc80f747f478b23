import type { Comparison } from './run.js';
export async function writePowerPlot(_path: string, _c: Comparison, _o: { powerDownAfterS: number | undefined }): Promise<void> {
  throw new Error('todo');
}

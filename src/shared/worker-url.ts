// Where a worker thread's script is (the extender's parse pool and health thread, the model server's retraining). Built, it sits next to the module starting it. Under vitest that module is
// TypeScript with no .js beside it, so the built script in dist/ is used (setup builds it).
import { existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** URL of `file` beside the module at `moduleUrl` (its import.meta.url), or of its build in dist/. */
export function workerScriptUrl(moduleUrl: string, file: string): URL {
  const here = new URL(`./${file}`, moduleUrl);
  if (existsSync(fileURLToPath(here))) return here;
  const dir = dirname(fileURLToPath(moduleUrl));
  let root = dir;
  while (!existsSync(join(root, 'package.json')) && dirname(root) !== root) root = dirname(root);
  return pathToFileURL(join(root, 'dist', relative(root, dir), file));
}

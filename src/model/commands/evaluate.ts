// `wattsched evaluate --model model.onnx --data CSV [--json]`
import { WS_ERR_USAGE } from '../../shared/errors.js';
import { OnnxPowerModel } from '../power-model.js';
import { evaluateTable } from '../pipeline.js';
import { loadData, parseFlags } from './args.js';

const USAGE = `usage: wattsched evaluate --model model.onnx --data CSV [--data CSV...] [--phases FILE] [--json]
  Reads any CSV with the model's columns; prints n, MAPE %, RMSE W and the worst validation group.`;

export async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseFlags(argv, { model: { type: 'string', short: 'm' }, data: { type: 'string', multiple: true }, phases: { type: 'string' }, json: { type: 'boolean' } }, USAGE);
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (!values.model) throw new WS_ERR_USAGE(`--model is required\n\n${USAGE}`);
  const table = loadData(values.data, positionals, values.phases, USAGE);
  const model = await OnnxPowerModel.load(values.model);
  try {
    const e = await evaluateTable(model, table);
    const worst = e.worst_group ? { group: e.worst_group.group, n: e.worst_group.n, mape_percent: round(e.worst_group.mape_percent) } : null;
    const out = { n: e.n, mape_percent: round(e.mape_percent), rmse_watts: round(e.rmse_watts), worst_group: worst, skipped: e.skipped, task: model.task, family: model.metadata.family, per_output: e.per_output };
    if (values.json) console.log(JSON.stringify(out));
    else {
      console.log(`${model.name}: ${model.task} model (${model.metadata.family}) on ${e.n} rows of ${table.source} (${e.skipped} skipped)`);
      console.log(`MAPE ${out.mape_percent.toFixed(2)} %   RMSE ${out.rmse_watts.toFixed(2)} W   worst group ${worst ? `${worst.group} (${worst.n} rows, ${worst.mape_percent.toFixed(2)} %)` : '-'}`);
    }
  } finally {
    await model.close();
  }
}

const round = (x: number): number => Number(x.toFixed(4));

// Ridge regression on standardised inputs, solved exactly by Cholesky. Shared by the linear and spline families;
// coefficients are returned for centred raw features, so the ONNX graph is Sub, MatMul, Add. Centring keeps the
// float32 graph from cancelling large terms (year × coefficient against the intercept).

export interface LinearCoefficients {
  /** F feature means subtracted before the product. */
  center: number[];
  /** F x K, row-major by feature. */
  weights: number[][];
  /** K intercepts (the prediction at the centre). */
  bias: number[];
}

function cholesky(a: number[][]): number[][] {
  const n = a.length;
  const l = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = (a[i] as number[])[j] as number;
      for (let k = 0; k < j; k++) s -= ((l[i] as number[])[k] as number) * ((l[j] as number[])[k] as number);
      if (i === j) (l[i] as number[])[i] = Math.sqrt(Math.max(s, 1e-12));
      else (l[i] as number[])[j] = s / ((l[j] as number[])[j] as number);
    }
  }
  return l;
}

function solveCholesky(l: number[][], b: number[]): number[] {
  const n = l.length;
  const y = new Array<number>(n).fill(0);
  for (let i = 0; i < n; i++) {
    let s = b[i] as number;
    for (let k = 0; k < i; k++) s -= ((l[i] as number[])[k] as number) * (y[k] as number);
    y[i] = s / ((l[i] as number[])[i] as number);
  }
  const x = new Array<number>(n).fill(0);
  for (let i = n - 1; i >= 0; i--) {
    let s = y[i] as number;
    for (let k = i + 1; k < n; k++) s -= ((l[k] as number[])[i] as number) * (x[k] as number);
    x[i] = s / ((l[i] as number[])[i] as number);
  }
  return x;
}

/** Fits Y ≈ X·W + b minimising squared error + lambda·|W|² (on standardised X); constant columns get weight 0. */
export function fitRidge(x: readonly (readonly number[])[], y: readonly (readonly number[])[], lambda: number): LinearCoefficients {
  const n = x.length;
  const f = x[0]?.length ?? 0;
  const k = y[0]?.length ?? 0;
  if (n === 0) throw new Error('no training rows');
  const mean = new Array<number>(f).fill(0);
  const sd = new Array<number>(f).fill(0);
  const ymean = new Array<number>(k).fill(0);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < f; j++) mean[j] = (mean[j] as number) + ((x[i] as number[])[j] as number) / n;
    for (let t = 0; t < k; t++) ymean[t] = (ymean[t] as number) + ((y[i] as number[])[t] as number) / n;
  }
  for (let i = 0; i < n; i++) for (let j = 0; j < f; j++) sd[j] = (sd[j] as number) + (((x[i] as number[])[j] as number) - (mean[j] as number)) ** 2 / n;
  const scale = sd.map((v) => (Math.sqrt(v) > 1e-12 ? Math.sqrt(v) : 0));
  const z = (i: number, j: number): number => ((scale[j] as number) === 0 ? 0 : (((x[i] as number[])[j] as number) - (mean[j] as number)) / (scale[j] as number));
  const a = Array.from({ length: f }, () => new Array<number>(f).fill(0));
  const b = Array.from({ length: k }, () => new Array<number>(f).fill(0));
  for (let i = 0; i < n; i++) {
    const row = Array.from({ length: f }, (_, j) => z(i, j));
    for (let p = 0; p < f; p++) {
      const rp = row[p] as number;
      if (rp === 0) continue;
      const ap = a[p] as number[];
      for (let q = 0; q <= p; q++) ap[q] = (ap[q] as number) + rp * (row[q] as number);
      for (let t = 0; t < k; t++) (b[t] as number[])[p] = ((b[t] as number[])[p] as number) + rp * (((y[i] as number[])[t] as number) - (ymean[t] as number));
    }
  }
  for (let p = 0; p < f; p++) {
    for (let q = 0; q < p; q++) (a[q] as number[])[p] = (a[p] as number[])[q] as number;
    (a[p] as number[])[p] = ((a[p] as number[])[p] as number) + lambda * n + ((scale[p] as number) === 0 ? 1 : 0);
  }
  const l = cholesky(a);
  const weights = Array.from({ length: f }, () => new Array<number>(k).fill(0));
  const bias = [...ymean];
  for (let t = 0; t < k; t++) {
    const w = solveCholesky(l, b[t] as number[]);
    for (let j = 0; j < f; j++) {
      (weights[j] as number[])[t] = (scale[j] as number) === 0 ? 0 : (w[j] as number) / (scale[j] as number);
    }
  }
  return { center: mean, weights, bias };
}

export function applyLinear(c: LinearCoefficients, row: readonly number[]): number[] {
  const out = [...c.bias];
  for (let j = 0; j < row.length; j++) {
    const xj = (row[j] as number) - (c.center[j] as number);
    const wj = c.weights[j] as number[];
    for (let t = 0; t < out.length; t++) out[t] = (out[t] as number) + xj * (wj[t] as number);
  }
  return out;
}

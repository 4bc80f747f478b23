// Kubernetes resource.Quantity parsing, for the two uses wattsched has: CPU in millicores and memory in bytes.
// Follows apimachinery's grammar (decimal SI, binary SI and decimal-exponent suffixes); values round up, as
// Quantity.MilliValue() does, so a request is never under-counted.

const DECIMAL: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const BINARY: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
const QUANTITY = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])|[eE]([+-]?\d+))?$/;

/** Parses a quantity into its value in base units; undefined when the text is not a valid quantity. */
export function parseQuantity(text: string | number): number | undefined {
  if (typeof text === 'number') return Number.isFinite(text) ? text : undefined;
  const m = QUANTITY.exec(text.trim());
  if (!m) return undefined;
  const base = Number(m[1]);
  if (m[2] !== undefined && m[2] in BINARY) return base * 2 ** (BINARY[m[2]] as number);
  const exp = m[3] !== undefined ? Number(m[3]) : (DECIMAL[m[2] ?? ''] as number);
  return base * 10 ** exp;
}

/** CPU quantity in millicores, rounded up; undefined when invalid or negative. */
export function cpuMillicores(text: string | number): number | undefined {
  const v = parseQuantity(text);
  if (v === undefined || v < 0) return undefined;
  // The epsilon absorbs binary floating-point noise ("0.1" * 1000 = 100.00000000000001) before rounding up.
  return Math.max(0, Math.ceil(v * 1000 - 1e-9));
}

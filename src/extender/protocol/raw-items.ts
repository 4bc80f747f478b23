// Finds where each element of the top-level `Nodes.items` array sits in the raw request text, so a full-mode
// filter answer can return the surviving Node objects as the exact bytes kube-scheduler sent instead of
// re-serialising megabytes of JSON. One pass over the text, no allocation per character.

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJ = 0x7b;
const CLOSE_OBJ = 0x7d;
const OPEN_ARR = 0x5b;
const CLOSE_ARR = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

/** Index of the quote closing the string that opens at `open`; indexOf does the scanning natively. */
function closingQuote(text: string, open: number): number {
  let q = open;
  for (;;) {
    q = text.indexOf('"', q + 1);
    if (q < 0) return text.length;
    let backslashes = 0;
    while (text.charCodeAt(q - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return q;
  }
}

const isSpace = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/**
 * [start, end) offsets of each element of `<Nodes>.items` in `text`, where <Nodes> is the last top-level key equal
 * to "Nodes" ignoring case (Go's rule) and `items` is matched exactly (a Kubernetes JSON tag). Returns undefined
 * when the text does not have that shape; the caller then serialises instead. Expects text JSON.parse accepted.
 */
export function nodeItemSpans(text: string): Array<[number, number]> | undefined {
  const isObj: boolean[] = []; // container stack: true for objects
  let key: string | undefined; // last key read, valid while its value is being read
  let expectKey = false;
  let nodesDepth = -1; // stack depth inside the top-level Nodes object, or -1
  let itemsDepth = -1; // stack depth inside Nodes.items, or -1
  let elemStart = -1;
  let current: Array<[number, number]> = [];
  let spans: Array<[number, number]> | undefined;

  const endScalar = (i: number): void => {
    let end = i;
    while (end > elemStart && isSpace(text.charCodeAt(end - 1))) end--;
    current.push([elemStart, end]);
    elemStart = -1;
  };

  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const depth = isObj.length;
    if (isSpace(c)) continue;
    if (depth === itemsDepth && elemStart < 0 && c !== COMMA && c !== CLOSE_ARR) elemStart = i;
    if (c === QUOTE) {
      const start = i;
      i = closingQuote(text, i);
      if (expectKey && depth <= 2) key = JSON.parse(text.slice(start, i + 1)) as string;
    } else if (c === OPEN_OBJ || c === OPEN_ARR) {
      if (depth === 1 && c === OPEN_OBJ && key?.toLowerCase() === 'nodes') nodesDepth = 2;
      else if (depth === nodesDepth && c === OPEN_ARR && key === 'items') {
        itemsDepth = 3;
        current = [];
      }
      isObj.push(c === OPEN_OBJ);
      expectKey = c === OPEN_OBJ;
    } else if (c === CLOSE_OBJ || c === CLOSE_ARR) {
      if (depth === itemsDepth && c === CLOSE_ARR) {
        if (elemStart >= 0) endScalar(i);
        spans = current;
        itemsDepth = -1;
      } else if (depth === nodesDepth && c === CLOSE_OBJ) {
        nodesDepth = -1;
      }
      isObj.pop();
      expectKey = false;
      if (isObj.length === itemsDepth && elemStart >= 0) {
        current.push([elemStart, i + 1]);
        elemStart = -1;
      }
    } else if (c === COMMA) {
      if (depth === itemsDepth && elemStart >= 0) endScalar(i);
      expectKey = isObj[depth - 1] === true;
    } else if (c === COLON) {
      expectKey = false;
    }
  }
  return isObj.length === 0 ? spans : undefined;
}

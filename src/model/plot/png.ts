// Predicted-vs-measured scatter plots as PNG with no image library: an RGB raster, a 5x7 bitmap font for labels,
// and a minimal PNG encoder (IHDR, one zlib IDAT, IEND).
import { deflateSync } from 'node:zlib';

type Rgb = readonly [number, number, number];

export class Raster {
  readonly pixels: Uint8Array;
  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.pixels = new Uint8Array(width * height * 3).fill(255);
  }

  set(x: number, y: number, c: Rgb): void {
    const xi = Math.round(x);
    const yi = Math.round(y);
    if (xi < 0 || yi < 0 || xi >= this.width || yi >= this.height) return;
    const i = (yi * this.width + xi) * 3;
    this.pixels[i] = c[0];
    this.pixels[i + 1] = c[1];
    this.pixels[i + 2] = c[2];
  }

  line(x0: number, y0: number, x1: number, y1: number, c: Rgb): void {
    const steps = Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0), 1);
    for (let s = 0; s <= steps; s++) this.set(x0 + ((x1 - x0) * s) / steps, y0 + ((y1 - y0) * s) / steps, c);
  }

  dot(x: number, y: number, c: Rgb): void {
    for (let dx = -1; dx <= 1; dx++) for (let dy = -1; dy <= 1; dy++) this.set(x + dx, y + dy, c);
  }

  text(x: number, y: number, s: string, c: Rgb, scale = 1): void {
    let cx = x;
    for (const ch of s.toUpperCase()) {
      const glyph = FONT[ch] ?? FONT['?'] as number[];
      glyph.forEach((col, i) => {
        for (let bit = 0; bit < 7; bit++) {
          if ((col >> bit) & 1) for (let a = 0; a < scale; a++) for (let b = 0; b < scale; b++) this.set(cx + i * scale + a, y + bit * scale + b, c);
        }
      });
      cx += 6 * scale;
    }
  }
}

// Classic 5x7 font, one byte per column, bit 0 at the top.
const FONT: Record<string, number[]> = {
  ' ': [0, 0, 0, 0, 0], '0': [0x3e, 0x51, 0x49, 0x45, 0x3e], '1': [0x00, 0x42, 0x7f, 0x40, 0x00], '2': [0x42, 0x61, 0x51, 0x49, 0x46],
  '3': [0x21, 0x41, 0x45, 0x4b, 0x31], '4': [0x18, 0x14, 0x12, 0x7f, 0x10], '5': [0x27, 0x45, 0x45, 0x45, 0x39], '6': [0x3c, 0x4a, 0x49, 0x49, 0x30],
  '7': [0x01, 0x71, 0x09, 0x05, 0x03], '8': [0x36, 0x49, 0x49, 0x49, 0x36], '9': [0x06, 0x49, 0x49, 0x29, 0x1e], A: [0x7e, 0x11, 0x11, 0x11, 0x7e],
  B: [0x7f, 0x49, 0x49, 0x49, 0x36], C: [0x3e, 0x41, 0x41, 0x41, 0x22], D: [0x7f, 0x41, 0x41, 0x22, 0x1c], E: [0x7f, 0x49, 0x49, 0x49, 0x41],
  F: [0x7f, 0x09, 0x09, 0x09, 0x01], G: [0x3e, 0x41, 0x49, 0x49, 0x7a], H: [0x7f, 0x08, 0x08, 0x08, 0x7f], I: [0x00, 0x41, 0x7f, 0x41, 0x00],
  J: [0x20, 0x40, 0x41, 0x3f, 0x01], K: [0x7f, 0x08, 0x14, 0x22, 0x41], L: [0x7f, 0x40, 0x40, 0x40, 0x40], M: [0x7f, 0x02, 0x0c, 0x02, 0x7f],
  N: [0x7f, 0x04, 0x08, 0x10, 0x7f], O: [0x3e, 0x41, 0x41, 0x41, 0x3e], P: [0x7f, 0x09, 0x09, 0x09, 0x06], Q: [0x3e, 0x41, 0x51, 0x21, 0x5e],
  R: [0x7f, 0x09, 0x19, 0x29, 0x46], S: [0x46, 0x49, 0x49, 0x49, 0x31], T: [0x01, 0x01, 0x7f, 0x01, 0x01], U: [0x3f, 0x40, 0x40, 0x40, 0x3f],
  V: [0x1f, 0x20, 0x40, 0x20, 0x1f], W: [0x3f, 0x40, 0x38, 0x40, 0x3f], X: [0x63, 0x14, 0x08, 0x14, 0x63], Y: [0x07, 0x08, 0x70, 0x08, 0x07],
  Z: [0x61, 0x51, 0x49, 0x45, 0x43], '.': [0x00, 0x60, 0x60, 0x00, 0x00], ',': [0x00, 0x50, 0x30, 0x00, 0x00], '-': [0x08, 0x08, 0x08, 0x08, 0x08],
  '%': [0x23, 0x13, 0x08, 0x64, 0x62], ':': [0x00, 0x36, 0x36, 0x00, 0x00], '/': [0x20, 0x10, 0x08, 0x04, 0x02], '(': [0x00, 0x1c, 0x22, 0x41, 0x00],
  ')': [0x00, 0x41, 0x22, 0x1c, 0x00], '=': [0x14, 0x14, 0x14, 0x14, 0x14], '_': [0x40, 0x40, 0x40, 0x40, 0x40], '?': [0x02, 0x01, 0x51, 0x09, 0x06],
  '[': [0x00, 0x7f, 0x41, 0x41, 0x00], ']': [0x00, 0x41, 0x41, 0x7f, 0x00], '+': [0x08, 0x08, 0x3e, 0x08, 0x08],
};

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = (CRC_TABLE[(c ^ b) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

export function encodePng(r: Raster): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(r.width, 0);
  ihdr.writeUInt32BE(r.height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const raw = Buffer.alloc((r.width * 3 + 1) * r.height);
  for (let y = 0; y < r.height; y++) {
    raw[y * (r.width * 3 + 1)] = 0; // filter: none
    raw.set(r.pixels.subarray(y * r.width * 3, (y + 1) * r.width * 3), y * (r.width * 3 + 1) + 1);
  }
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', new Uint8Array(0))]);
}

export interface Scatter {
  title: string;
  subtitle: string;
  /** [measured, predicted] pairs in watts. */
  points: readonly (readonly [number, number])[];
}

/** Predicted (y) vs measured (x) watts on log-log axes with the y = x line and ±10 % bands. */
export function scatterPng(s: Scatter, size = 520): Buffer {
  const r = new Raster(size, size);
  const left = 60;
  const top = 50;
  const span = size - left - 20;
  const vals = s.points.flat().filter((v) => v > 0);
  const lo = Math.log10(Math.min(...vals) * 0.9);
  const hi = Math.log10(Math.max(...vals) * 1.1);
  const px = (w: number): number => left + ((Math.log10(w) - lo) / (hi - lo)) * span;
  const py = (w: number): number => top + span - ((Math.log10(w) - lo) / (hi - lo)) * span;
  const grey: Rgb = [200, 200, 200];
  const black: Rgb = [0, 0, 0];
  const ticks: number[] = [];
  for (let d = Math.floor(lo); d <= Math.ceil(hi); d++) for (const m of [1, 2, 5]) if (Math.log10(m * 10 ** d) >= lo && Math.log10(m * 10 ** d) <= hi) ticks.push(m * 10 ** d);
  for (const w of ticks) {
    r.line(px(w), top, px(w), top + span, [235, 235, 235]);
    r.line(left, py(w), left + span, py(w), [235, 235, 235]);
    r.text(px(w) - 10, top + span + 6, String(Math.round(w)), black);
    r.text(4, py(w) - 3, String(Math.round(w)).padStart(5), black);
  }
  r.line(left, top, left, top + span, black);
  r.line(left, top + span, left + span, top + span, black);
  const w0 = 10 ** lo;
  const w1 = 10 ** hi;
  r.line(px(w0), py(w0), px(w1), py(w1), [120, 120, 120]);
  r.line(px(w0), py(w0 * 1.1), px(w1 / 1.1), py(w1), grey);
  r.line(px(w0 * 1.1), py(w0), px(w1), py(w1 / 1.1), grey);
  for (const [m, p] of s.points) if (m > 0 && p > 0) r.dot(px(m), py(p), [31, 119, 180]);
  r.text(left, 8, s.title, black, 2);
  r.text(left, 30, s.subtitle, [80, 80, 80]);
  r.text(left + span - 130, top + span + 20, 'MEASURED W (LOG)', black);
  r.text(left + 4, top + 4, 'PREDICTED W', black);
  return encodePng(r);
}

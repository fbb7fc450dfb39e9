// zstd for cache entries. Encode: the WASM build of libzstd, else node:zlib's native zstd where the
// runtime has it (Node >= 22.15). Decode: WASM, else native, else fzstd (pure JS). WASM first even where
// native exists: node:zlib makes a zstd context per call, freed only when its handle is collected, and
// 1,138 entries in a row (a cold resolution's writes, a warm start's reads) raised the RSS by 74 MB
// (encode) and 95 MB (decode) on Node 22, against 15 and 31 MB for the WASM build, whose fixed 16.5 MB
// heap is reused; WASM was as fast (encode 239 against 223 ms, decode 114 against 143). On Node 24 the
// two are even (encode 14 against 23 MB, decode 37 against 55, plus the WASM heap).
// No dictionaries anywhere: fzstd can return wrong output silently on dictionary frames. Every decode
// is bounded by the size the entry header declares, checked against the frame header before any
// allocation, so a hostile or corrupt frame cannot make us allocate gigabytes.
import * as zlib from 'node:zlib';

// Level 1, not zstd's default 3: on the large fixture's 1,119 projections it compressed 25% faster
// (136 against 183 ms, WASM) to the same ratio (3.49x against 3.47x).
const LEVEL = 1;
/** No cached document decodes to more than this (the largest real abbreviated packuments are ~30 MB). */
export const MAX_DECODED = 64 * 1024 * 1024;

export type CodecName = 'native' | 'wasm' | 'fzstd' | 'none';

export class CodecError extends Error {
  readonly code = 'ECACHECORRUPT';
}

interface NativeZstd {
  zstdCompressSync(b: Uint8Array, o?: object): Buffer;
  zstdDecompressSync(b: Uint8Array, o?: object): Buffer;
  constants: Record<string, number>;
}
const native = typeof (zlib as unknown as Partial<NativeZstd>).zstdCompressSync === 'function' ? (zlib as unknown as NativeZstd) : undefined;

interface WasmZstd {
  compress(b: Uint8Array, level?: number): Uint8Array;
  decompress(b: Uint8Array, o?: { defaultHeapSize: number }): Uint8Array;
}
let wasm: WasmZstd | undefined;
let wasmLoad: Promise<WasmZstd | undefined> | undefined;

/**
 * libzstd as WASM, bundled: its init() reads zstd.wasm beside the JS that runs it, which for a bundle is
 * dist/, where the build copies the file (and the .vsix ships it: without it, a packaged extension on a
 * Node without native zstd wrote raw entries). A literal require, which esbuild evaluates on first
 * use: a run that never touches a cache entry does not pay for it.
 */
export function loadWasm(): Promise<WasmZstd | undefined> {
  return (wasmLoad ??= (async () => {
    try {
      const zstd = require('@bokuweb/zstd-wasm') as WasmZstd & { init(): Promise<void> }; // eslint-disable-line @typescript-eslint/no-require-imports
      await zstd.init();
      wasm = { compress: zstd.compress, decompress: zstd.decompress };
      return wasm;
    } catch {
      return undefined;
    }
  })());
}

/** The encoder in use now: native, WASM once loaded, else none (entries are then stored raw). */
export function encoderName(): CodecName {
  return wasm ? 'wasm' : native ? 'native' : 'none';
}

export function decoderName(): CodecName {
  return wasm ? 'wasm' : native ? 'native' : 'fzstd';
}

/** Compresses with the best encoder available; `undefined` when none is (the caller stores raw). */
export function compress(raw: Uint8Array, force?: CodecName): Uint8Array | undefined {
  const which = force ?? encoderName();
  if (which === 'native' && native) {
    return native.zstdCompressSync(raw, { params: { [native.constants.ZSTD_c_compressionLevel]: LEVEL } });
  }
  if (which === 'wasm' && wasm) return wasm.compress(raw, LEVEL);
  return undefined;
}

/**
 * The Frame_Content_Size a zstd frame header declares, or -1 when the frame does not say. Throws on
 * anything that is not a single zstd frame (dictionary frames included: we never write them).
 */
export function frameContentSize(f: Uint8Array): number {
  if (f.length < 6 || f[0] !== 0x28 || f[1] !== 0xb5 || f[2] !== 0x2f || f[3] !== 0xfd) throw new CodecError('not a zstd frame');
  const fhd = f[4];
  const fcsFlag = fhd >> 6;
  const single = (fhd >> 5) & 1;
  const dictFlag = fhd & 3;
  if (dictFlag !== 0) throw new CodecError('dictionary frames are not accepted');
  if ((fhd >> 3) & 1) throw new CodecError('reserved bit set in frame header');
  let p = 5 + (single ? 0 : 1);
  const size = fcsFlag === 0 ? (single ? 1 : 0) : 1 << fcsFlag;
  if (size === 0) return -1;
  if (f.length < p + size) throw new CodecError('truncated frame header');
  let v = 0;
  for (let i = size - 1; i >= 0; i--) v = v * 256 + f[p + i];
  if (size === 2) v += 256;
  p += size;
  return v;
}

/** Decompresses one frame that must decode to exactly `expected` bytes (<= MAX_DECODED). */
export function decompress(frame: Uint8Array, expected: number, force?: CodecName): Uint8Array {
  if (!(expected >= 0 && expected <= MAX_DECODED)) throw new CodecError(`entry claims ${expected} bytes, over the ${MAX_DECODED} limit`);
  const declared = frameContentSize(frame);
  if (declared !== -1 && declared !== expected) throw new CodecError(`frame declares ${declared} bytes, header ${expected}`);
  const which = force ?? decoderName();
  let out: Uint8Array;
  try {
    if (which === 'native' && native) out = native.zstdDecompressSync(frame, { maxOutputLength: Math.max(expected, 1) });
    else if (which === 'wasm' && wasm) out = wasm.decompress(frame, { defaultHeapSize: Math.max(expected, 1) });
    else {
      // fzstd's one-shot decompress into a given buffer silently truncates a frame that expands past it
      // (and returns the whole buffer when it expands to less), so the stream API counts what arrives and
      // stops at the first byte over the bound.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const fz = require('fzstd') as { Decompress: new (ondata: (chunk: Uint8Array, final: boolean) => void) => { push(d: Uint8Array, final?: boolean): void } };
      const buf = new Uint8Array(expected);
      let n = 0;
      const stream = new fz.Decompress((chunk) => {
        if (n + chunk.length > expected) throw new CodecError(`frame expands past the ${expected} bytes its entry declares`);
        buf.set(chunk, n);
        n += chunk.length;
      });
      stream.push(frame, true);
      out = buf.subarray(0, n);
    }
  } catch (e) {
    throw new CodecError(`zstd decode failed: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (out.length !== expected) throw new CodecError(`decoded ${out.length} bytes, expected ${expected}`);
  return out;
}

// The few facts a container needs from an H.264 sequence parameter set (ITU-T H.264 7.3.2.1.1):
// the codec string (profile, constraints, level) and the picture size after cropping.

class Bits {
  private pos = 0;
  constructor(private readonly b: Uint8Array) {}
  bit(): number {
    const byte = this.b[this.pos >> 3];
    if (byte === undefined) throw new RangeError('SPS truncated');
    return (byte >> (7 - (this.pos++ & 7))) & 1;
  }
  bits(n: number): number { let v = 0; for (let i = 0; i < n; i++) v = v * 2 + this.bit(); return v; }
  ue(): number { let zeros = 0; while (this.bit() === 0) if (++zeros > 31) throw new RangeError('bad Exp-Golomb'); return (2 ** zeros - 1) + this.bits(zeros); }
  se(): number { const k = this.ue(); return k & 1 ? (k + 1) / 2 : -k / 2; }
}

/** Removes emulation-prevention bytes (00 00 03 → 00 00). */
function rbsp(nal: Uint8Array): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < nal.length; i++) {
    if (i >= 2 && nal[i] === 3 && nal[i - 1] === 0 && nal[i - 2] === 0) continue;
    out.push(nal[i]!);
  }
  return Uint8Array.from(out);
}

export interface SpsInfo { codec: string; width: number; height: number }

/** Parses an SPS NAL unit (with its one-byte header); null when it is not one or is malformed. */
export function parseSps(nal: Uint8Array): SpsInfo | null {
  if (nal.length < 4 || (nal[0]! & 0x1f) !== 7) return null;
  try {
    const r = new Bits(rbsp(nal.subarray(1)));
    const profile = r.bits(8);
    const constraints = r.bits(8);
    const level = r.bits(8);
    r.ue(); // seq_parameter_set_id
    let chroma = 1;
    if ([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135].includes(profile)) {
      chroma = r.ue();
      if (chroma === 3) r.bit();
      r.ue(); r.ue(); r.bit(); // bit depths, qpprime bypass
      if (r.bit()) { // scaling matrices present
        for (let i = 0; i < (chroma === 3 ? 12 : 8); i++) {
          if (!r.bit()) continue;
          let last = 8, next = 8;
          for (let j = 0; j < (i < 6 ? 16 : 64); j++) {
            if (next !== 0) next = (last + r.se() + 256) % 256;
            last = next === 0 ? last : next;
          }
        }
      }
    }
    r.ue(); // log2_max_frame_num
    const pocType = r.ue();
    if (pocType === 0) r.ue();
    else if (pocType === 1) { r.bit(); r.se(); r.se(); const n = r.ue(); for (let i = 0; i < n; i++) r.se(); }
    r.ue(); r.bit(); // max_num_ref_frames, gaps allowed
    const wMbs = r.ue() + 1;
    const hMapUnits = r.ue() + 1;
    const frameMbsOnly = r.bit();
    if (!frameMbsOnly) r.bit();
    r.bit(); // direct_8x8_inference
    let crop = [0, 0, 0, 0];
    if (r.bit()) crop = [r.ue(), r.ue(), r.ue(), r.ue()];
    const cropX = chroma === 0 || chroma === 3 ? 1 : 2;
    const cropY = (chroma === 1 ? 2 : 1) * (2 - frameMbsOnly);
    const hex = (v: number) => v.toString(16).padStart(2, '0');
    return {
      codec: `avc1.${hex(profile)}${hex(constraints)}${hex(level)}`,
      width: wMbs * 16 - cropX * (crop[0]! + crop[1]!),
      height: (2 - frameMbsOnly) * hMapUnits * 16 - cropY * (crop[2]! + crop[3]!),
    };
  } catch {
    return null;
  }
}

/** The SPS NAL units of an Annex B access unit. */
export function findSps(annexB: Uint8Array): Uint8Array | null {
  for (let i = 0; i + 4 < annexB.length; i++) {
    if (annexB[i] === 0 && annexB[i + 1] === 0 && annexB[i + 2] === 1 && (annexB[i + 3]! & 0x1f) === 7) {
      let end = i + 3;
      while (end + 2 < annexB.length && !(annexB[end] === 0 && annexB[end + 1] === 0 && (annexB[end + 2] === 1 || annexB[end + 2] === 0))) end++;
      return annexB.subarray(i + 3, end + 2 < annexB.length ? end : annexB.length);
    }
  }
  return null;
}

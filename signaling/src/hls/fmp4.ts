// Just enough ISO BMFF reading for a live HLS playlist: each track's timescale (from the init
// segment's moov) and how long a fragment plays (from its moof's sample durations), so a segment is
// listed with its EXTINF the moment it is complete instead of when the next one starts.

interface Box { type: string; start: number; end: number; body: number }

function* boxes(d: Uint8Array, from = 0, to = d.length): Generator<Box> {
  const view = new DataView(d.buffer, d.byteOffset, d.byteLength);
  let at = from;
  while (at + 8 <= to) {
    let size = view.getUint32(at);
    let body = at + 8;
    if (size === 1) { size = Number(view.getBigUint64(at + 8)); body = at + 16; } else if (size === 0) size = to - at;
    if (size < 8 || at + size > to) return; // truncated: stop rather than read past it
    yield { type: String.fromCharCode(d[at + 4]!, d[at + 5]!, d[at + 6]!, d[at + 7]!), start: at, end: at + size, body };
    at += size;
  }
}

function child(d: Uint8Array, parent: Box, type: string): Box | undefined {
  for (const b of boxes(d, parent.body, parent.end)) if (b.type === type) return b;
  return undefined;
}

function view(d: Uint8Array): DataView { return new DataView(d.buffer, d.byteOffset, d.byteLength); }

export interface InitInfo {
  /** track_ID → timescale (ticks per second). */
  timescales: Map<number, number>;
  /** track_ID → trex default_sample_duration. */
  defaultDurations: Map<number, number>;
}

/** Reads ftyp+moov (an init segment). */
export function readInit(d: Uint8Array): InitInfo {
  const v = view(d);
  const info: InitInfo = { timescales: new Map(), defaultDurations: new Map() };
  for (const top of boxes(d)) {
    if (top.type !== 'moov') continue;
    for (const b of boxes(d, top.body, top.end)) {
      if (b.type === 'trak') {
        const tkhd = child(d, b, 'tkhd');
        const mdhd = child(d, child(d, b, 'mdia') ?? b, 'mdhd');
        if (!tkhd || !mdhd) continue;
        const id = v.getUint32(tkhd.body + (d[tkhd.body] === 1 ? 20 : 12));
        info.timescales.set(id, v.getUint32(mdhd.body + (d[mdhd.body] === 1 ? 20 : 12)));
      } else if (b.type === 'mvex') {
        for (const t of boxes(d, b.body, b.end)) {
          if (t.type === 'trex') info.defaultDurations.set(v.getUint32(t.body + 4), v.getUint32(t.body + 12));
        }
      }
    }
  }
  return info;
}

/** Seconds a moof+mdat fragment plays: its longest track's sum of sample durations. */
export function fragmentSeconds(d: Uint8Array, init: InitInfo): number {
  const v = view(d);
  let longest = 0;
  for (const top of boxes(d)) {
    if (top.type !== 'moof') continue;
    for (const traf of boxes(d, top.body, top.end)) {
      if (traf.type !== 'traf') continue;
      const tfhd = child(d, traf, 'tfhd');
      if (!tfhd) continue;
      const flags = v.getUint32(tfhd.body) & 0xffffff;
      const id = v.getUint32(tfhd.body + 4);
      let o = tfhd.body + 8;
      if (flags & 0x01) o += 8; // base-data-offset
      if (flags & 0x02) o += 4; // sample-description-index
      let fallback = init.defaultDurations.get(id) ?? 0;
      if (flags & 0x08) fallback = v.getUint32(o);
      let ticks = 0;
      for (const trun of boxes(d, traf.body, traf.end)) {
        if (trun.type !== 'trun') continue;
        const tf = v.getUint32(trun.body) & 0xffffff;
        const count = v.getUint32(trun.body + 4);
        let p = trun.body + 8;
        if (tf & 0x01) p += 4; // data-offset
        if (tf & 0x04) p += 4; // first-sample-flags
        const per = ((tf & 0x100) ? 4 : 0) + ((tf & 0x200) ? 4 : 0) + ((tf & 0x400) ? 4 : 0) + ((tf & 0x800) ? 4 : 0);
        for (let i = 0; i < count; i++) {
          ticks += (tf & 0x100) && p + 4 <= trun.end ? v.getUint32(p) : fallback;
          p += per;
        }
      }
      const scale = init.timescales.get(id);
      if (scale) longest = Math.max(longest, ticks / scale);
    }
  }
  return longest;
}

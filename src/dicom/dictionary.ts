/**
 * The DICOM data dictionary (tag → VR, keyword), needed to read implicit VR data sets and to print
 * headers. The table is generated from dcmtk's dictionaries into dictionary-data.ts and indexed
 * lazily on first use (~5,000 standard and ~2,700 private tags).
 */
import { PRIVATE, STANDARD } from './dictionary-data';

interface Entry { vr: string; keyword: string }
let standard: Map<number, Entry> | undefined;
let repeating: Map<number, Entry> | undefined; // key: (group & 0xFF00) << 16 | element
let privateVr: Map<string, string> | undefined; // key: "GGGG|creator|EE"

function load(): void {
  standard = new Map();
  repeating = new Map();
  for (const line of STANDARD.split('\n')) {
    const [tag, vr, keyword] = line.split(' ');
    if (tag.slice(2, 4) === 'xx') {
      repeating.set(((parseInt(tag.slice(0, 2), 16) << 24) | parseInt(tag.slice(4), 16)) >>> 0, { vr, keyword });
    } else {
      standard.set(parseInt(tag, 16), { vr, keyword });
    }
  }
  privateVr = new Map();
  for (const line of PRIVATE.split('\n')) {
    const [group, creator, element, vr] = line.split('|');
    privateVr.set(`${group}|${creator.trim()}|${element}`, vr);
  }
}

function entryOf(tag: number): Entry | undefined {
  if (!standard) load();
  const hit = standard!.get(tag);
  if (hit) return hit;
  const group = tag >>> 16;
  const hi = group & 0xff00;
  if (hi === 0x5000 || hi === 0x6000 || hi === 0x7f00) return repeating!.get(((hi << 16) | (tag & 0xffff)) >>> 0);
  return undefined;
}

/** VR for implicit VR reading; privateCreator is the creator owning the tag's private block, if any. */
export function vrOf(tag: number, privateCreator?: string): string {
  const group = tag >>> 16;
  const element = tag & 0xffff;
  if (element === 0) return 'UL'; // group length
  if (group % 2 === 1) {
    if (element >= 0x10 && element <= 0xff) return 'LO'; // private creator
    if (privateCreator !== undefined) {
      if (!privateVr) load();
      const key = `${hex4(group)}|${privateCreator.trim()}|${hex4(element).slice(2)}`;
      return privateVr!.get(key) ?? 'UN';
    }
    return 'UN';
  }
  return entryOf(tag)?.vr ?? 'UN';
}

/** Keyword of a tag given as 'GGGGEEEE' (e.g. '0010,0010' → 'PatientName'), undefined when unknown. */
export function keywordOf(tag: string): string | undefined {
  const t = parseInt(tag.replace(/[^0-9a-fA-F]/g, ''), 16);
  if (!Number.isFinite(t)) return undefined;
  const group = t >>> 16;
  const element = t & 0xffff;
  if (element === 0) return group === 0 ? 'CommandGroupLength' : 'GroupLength';
  if (group % 2 === 1) return element >= 0x10 && element <= 0xff ? 'PrivateCreator' : undefined;
  return entryOf(t >>> 0)?.keyword;
}

export function hex4(n: number): string {
  return n.toString(16).toUpperCase().padStart(4, '0');
}

const keys = new Map<number, string>();
/** Enough for every tag a run sees in practice; a file full of junk tags cannot grow the cache past it. */
const MAX_CACHED_KEYS = 10000;

/** 'GGGGEEEE' upper-case hex, the DICOM JSON key of a tag (cached: the same few hundred tags recur file after file). */
export function tagKey(tag: number): string {
  let key = keys.get(tag);
  if (key === undefined) {
    key = (tag >>> 0).toString(16).toUpperCase().padStart(8, '0');
    if (keys.size < MAX_CACHED_KEYS) keys.set(tag, key);
  }
  return key;
}

let byKeyword: Map<string, string> | undefined;
/** The 'GGGGEEEE' key of a standard keyword (e.g. 'PatientName' → '00100010'), undefined when unknown. */
export function tagOfKeyword(keyword: string): string | undefined {
  if (!byKeyword) {
    if (!standard) load();
    byKeyword = new Map();
    for (const [tag, entry] of standard!) if (entry.keyword && !byKeyword.has(entry.keyword)) byKeyword.set(entry.keyword, tagKey(tag));
  }
  return byKeyword.get(keyword);
}

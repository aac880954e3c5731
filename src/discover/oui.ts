import { existsSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * 24-bit prefix (6 hex digits) → vendor as registered, from data/oui.tsv.gz (IEEE MA-L registry; one
 * `BLOCK<TAB>name` line per block, sorted by block, each block once: scripts/gen-oui.mjs writes it so). The
 * text is read once on first use and a block is found in it by binary search: a read-out asks for a handful of
 * blocks, and a map of all ~32,000 took ~20 ms to build, about 1.5% of a million-frame discover pass. Names are
 * shortened when first asked for (`names`).
 */
let table: string | null = null;
/** Every block → name as registered: built only for ouiBlocksOf, which walks them all. */
let registry: Map<string, string> | null = null;
/** Names as vendorOf gives them: registry names shortened on first use, and entries of signed bundles (which win). */
const names = new Map<string, string>();

/** The vendor name of one block (6 upper-case hex digits). */
function nameOf(block: string): string | undefined {
  const known = names.get(block);
  if (known !== undefined) return known;
  const raw = registered(block);
  if (raw === undefined) return undefined;
  const v = shorten(raw);
  names.set(block, v);
  return v;
}

/** The registry's text, read once (empty when the data file is missing). */
function registryText(): string {
  if (table !== null) return table;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6 && !existsSync(path.join(dir, 'data/oui.tsv.gz')); i++)
    dir = path.dirname(dir);
  const file = path.join(dir, 'data/oui.tsv.gz');
  table = existsSync(file) ? gunzipSync(readFileSync(file)).toString('utf8') : '';
  return table;
}

/** A block's name as registered: binary search over the sorted lines of the text. */
function registered(block: string): string | undefined {
  const text = registryText();
  // lo and hi are line starts; the block's line, if any, starts in [lo, hi).
  let lo = 0,
    hi = text.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const start = mid === 0 ? 0 : text.lastIndexOf('\n', mid - 1) + 1;
    let eol = text.indexOf('\n', start);
    if (eol === -1) eol = text.length;
    const tab = text.indexOf('\t', start);
    const key = text.slice(start, tab > start && tab < eol ? tab : eol);
    if (key === block) return tab > start && tab < eol ? text.slice(tab + 1, eol) : undefined;
    if (key < block) lo = eol + 1;
    else hi = start;
  }
  return undefined;
}

/** Every block of the registry (ouiBlocksOf only). */
function load(): Map<string, string> {
  const t = new Map<string, string>();
  const text = registryText();
  for (let p = 0; p < text.length; ) {
    let eol = text.indexOf('\n', p);
    if (eol === -1) eol = text.length;
    const tab = text.indexOf('\t', p);
    if (tab > p && tab < eol) t.set(text.slice(p, tab), text.slice(tab + 1, eol));
    p = eol + 1;
  }
  return t;
}

const LEGAL_SUFFIX =
  /(?:[,.]\s*|\s+)(Inc|Incorporated|Corp|Corporation|Co|Ltd|Limited|LLC|GmbH & Co\. KG|GmbH|S\.A|SA|AB|BV|B\.V|Srl|S\.r\.l|Pty|PLC|KG)\.?$/i;

/** 'Siemens AG' stays, 'Rockwell Automation' stays; legal suffixes go (up to two: 'Co.,Ltd.') so tables stay narrow. */
export function shorten(v: string): string {
  return v.replace(LEGAL_SUFFIX, '').trim().replace(LEGAL_SUFFIX, '').trim();
}

/**
 * Answers by MAC text: a read-out asks once or twice per asset, often for the same router's MAC, and the text is
 * normalised by a regular expression each time otherwise. Bounded; emptied when a bundle changes the names.
 */
const byMac = new Map<string, string | null>();
const BY_MAC_LIMIT = 1 << 16;

/** Vendor of a MAC address's OUI block; undefined for all-zero, locally administered, multicast or unknown MACs. */
export function vendorOf(mac: string): string | undefined {
  const known = byMac.get(mac);
  if (known !== undefined) return known ?? undefined;
  const v = vendorOfText(mac);
  if (byMac.size >= BY_MAC_LIMIT) byMac.clear();
  byMac.set(mac, v ?? null);
  return v;
}

function vendorOfText(mac: string): string | undefined {
  const hex = mac.replace(/[^0-9a-fA-F]/g, '').toUpperCase();
  // All zeros is no NIC: loopback captures and some stacks fill it in (the block itself is Xerox's).
  if (hex.length !== 12 || hex === '000000000000') return undefined;
  const first = parseInt(hex.slice(0, 2), 16);
  if (first & 0x03) return undefined; // multicast or locally administered: no registered vendor
  return nameOf(hex.slice(0, 6));
}

/**
 * Entries of an OUI table that arrived in a signed bundle, laid over the built-in registry (newer
 * assignments win). Accepts the IEEE oui.txt ("00-1B-1B   (hex)  Siemens AG"), Wireshark's manuf
 * ("00:1B:1B<TAB>Siemens<TAB>Siemens AG") and Weir's own "001B1B<TAB>Siemens AG". Returns the entries read.
 */
export function overlayOuiTable(text: string): number {
  byMac.clear();
  let n = 0;
  for (const line of text.split('\n')) {
    const m =
      /^([0-9A-Fa-f]{2})[-:]?([0-9A-Fa-f]{2})[-:]?([0-9A-Fa-f]{2})(?:\s+\(hex\))?\s+(?:\S+\t)?(.+?)\s*$/.exec(
        line,
      );
    if (!m || line.startsWith('#') || line.includes('(base 16)')) continue;
    // manuf lines carry a short name, then the full name after a tab: keep the full one.
    const name = m[4]!.includes('\t') ? m[4]!.split('\t').pop()! : m[4]!;
    names.set(`${m[1]}${m[2]}${m[3]}`.toUpperCase(), shorten(name.trim()));
    n++;
  }
  return n;
}

/** The OUI blocks (6 hex digits) registered to a vendor, as vendorOf names it: where a cloned NIC's address comes from. */
export function ouiBlocksOf(vendor: string): string[] {
  registry ??= load();
  const want = shorten(vendor).toLowerCase();
  const out: string[] = [];
  for (const block of new Set([...registry.keys(), ...names.keys()]))
    if (nameOf(block)!.toLowerCase() === want) out.push(block);
  return out.sort();
}

import { existsSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * 24-bit prefix (6 hex digits) → vendor as registered, loaded once on first use from data/oui.tsv.gz (IEEE MA-L
 * registry). Names are shortened when first asked for (`names`): shortening all ~35,000 at load took ~30 ms,
 * about 2% of a million-frame discover pass that asks for a handful.
 */
let registry: Map<string, string> | null = null;
/** Names as vendorOf gives them: registry names shortened on first use, and entries of signed bundles (which win). */
const names = new Map<string, string>();

/** The vendor name of one block (6 upper-case hex digits). */
function nameOf(block: string): string | undefined {
  const known = names.get(block);
  if (known !== undefined) return known;
  registry ??= load();
  const raw = registry.get(block);
  if (raw === undefined) return undefined;
  const v = shorten(raw);
  names.set(block, v);
  return v;
}

function load(): Map<string, string> {
  const t = new Map<string, string>();
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6 && !existsSync(path.join(dir, 'data/oui.tsv.gz')); i++)
    dir = path.dirname(dir);
  const file = path.join(dir, 'data/oui.tsv.gz');
  if (!existsSync(file)) return t;
  // Walked in place (no array of 32,000 lines): this runs once, before the loop is optimised.
  const text = gunzipSync(readFileSync(file)).toString('utf8');
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

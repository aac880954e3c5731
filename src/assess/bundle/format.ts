/**
 * Signed offline bundles: one file that carries what Weir knows of the world (advisories, the OUI table,
 * ATT&CK for ICS, vendor-id tables, detection rule updates) from a connected machine to the plant on a USB
 * stick. Layout:
 *
 *   WEIR-BUNDLE/1\n
 *   <header: one line of JSON: sequence, created, key id, items with offset, length and SHA-256>\n
 *   <Ed25519 signature of the two lines above, base64, or "-" when unsigned>\n
 *   <items, back to back>
 *
 * The signature covers the header, the header pins every item's hash, so no byte can change unnoticed.
 * Pure apart from the hashing and signing of node:crypto: bytes in, bytes or a verdict out.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';

export const MAGIC = 'WEIR-BUNDLE/1';

export const ITEM_KINDS = ['advisories', 'oui', 'attack-ics', 'vendor-ids', 'rules'] as const;
export type ItemKind = (typeof ITEM_KINDS)[number];

export interface BundleItem {
  kind: ItemKind;
  /** File name it was made from (advisories: .tar.gz, .zip or .json). */
  name: string;
  offset: number;
  length: number;
  sha256: string;
}

export interface BundleHeader {
  format: 1;
  /** Increases with every bundle a publisher makes: an import refuses one not newer than the last. */
  sequence: number;
  created: string;
  publisher: string;
  keyId: string;
  items: BundleItem[];
}

export interface ParsedBundle {
  header: BundleHeader;
  /** The exact bytes the signature covers. */
  signed: Buffer;
  signature: Buffer | null;
  payload: Buffer;
}

export class BundleRefused extends Error {
  constructor(
    readonly reason: 'malformed' | 'unsigned' | 'tampered' | 'unknown-key' | 'older',
    message: string,
  ) {
    super(message);
  }
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A public key's id: the first 16 hex digits of the SHA-256 of its raw 32 bytes. */
export function keyIdOf(key: KeyObject | string): string {
  const k = typeof key === 'string' ? createPublicKey(key) : key;
  const der = k.export({ type: 'spki', format: 'der' });
  return sha256(der.subarray(der.length - 32)).slice(0, 16);
}

/** The Ed25519 public key in a PEM text; a clear error for anything else. */
export function readPublicKey(pem: string, source = 'key'): KeyObject {
  let k: KeyObject;
  try {
    k = createPublicKey(pem);
  } catch (err) {
    throw new Error(`${source}: not a public key in PEM form (${(err as Error).message})`);
  }
  if (k.asymmetricKeyType !== 'ed25519')
    throw new Error(`${source}: a ${k.asymmetricKeyType} key; bundles are signed with Ed25519`);
  return k;
}

export interface MakeInput {
  items: Array<{ kind: ItemKind; name: string; data: Buffer }>;
  sequence: number;
  publisher: string;
  /** PEM of the Ed25519 private key; null makes an unsigned bundle (only ever refused; for tests and review). */
  privateKeyPem: string | null;
  created?: string;
}

export function makeBundle(i: MakeInput): Buffer {
  if (!Number.isSafeInteger(i.sequence) || i.sequence < 1)
    throw new Error(`bundle sequence must be a positive whole number, not ${i.sequence}`);
  let key: KeyObject | null = null;
  if (i.privateKeyPem !== null) {
    key = createPrivateKey(i.privateKeyPem);
    if (key.asymmetricKeyType !== 'ed25519')
      throw new Error(`signing key is ${key.asymmetricKeyType}; bundles are signed with Ed25519`);
  }
  let offset = 0;
  const items: BundleItem[] = i.items.map((it) => {
    const e = {
      kind: it.kind,
      name: it.name,
      offset,
      length: it.data.length,
      sha256: sha256(it.data),
    };
    offset += it.data.length;
    return e;
  });
  const header: BundleHeader = {
    format: 1,
    sequence: i.sequence,
    created: i.created ?? new Date().toISOString(),
    publisher: i.publisher,
    keyId: key ? keyIdOf(createPublicKey(key)) : '',
    items,
  };
  const signed = Buffer.from(`${MAGIC}\n${JSON.stringify(header)}\n`);
  const sig = key ? sign(null, signed, key).toString('base64') : '-';
  return Buffer.concat([signed, Buffer.from(`${sig}\n`), ...i.items.map((x) => x.data)]);
}

/** Split a bundle into its parts; refuses what is not a bundle. */
export function parseBundle(file: Buffer, source = 'bundle'): ParsedBundle {
  const nl1 = file.indexOf(0x0a);
  if (nl1 < 0 || file.subarray(0, nl1).toString() !== MAGIC)
    throw new BundleRefused('malformed', `${source}: not a Weir bundle (no ${MAGIC} line)`);
  const nl2 = file.indexOf(0x0a, nl1 + 1);
  const nl3 = nl2 < 0 ? -1 : file.indexOf(0x0a, nl2 + 1);
  if (nl2 < 0 || nl3 < 0)
    throw new BundleRefused('malformed', `${source}: bundle cut short before its signature line`);
  let header: BundleHeader;
  try {
    header = JSON.parse(file.subarray(nl1 + 1, nl2).toString('utf8')) as BundleHeader;
  } catch {
    throw new BundleRefused(
      'tampered',
      `${source}: bundle header is not valid JSON (changed or damaged)`,
    );
  }
  if (
    header?.format !== 1 ||
    !Number.isSafeInteger(header.sequence) ||
    !Array.isArray(header.items) ||
    typeof header.keyId !== 'string'
  )
    throw new BundleRefused(
      'malformed',
      `${source}: bundle header lacks format 1, sequence, keyId or items`,
    );
  const sigText = file
    .subarray(nl2 + 1, nl3)
    .toString()
    .trim();
  return {
    header,
    signed: file.subarray(0, nl2 + 1),
    signature: sigText === '-' || sigText === '' ? null : Buffer.from(sigText, 'base64'),
    payload: file.subarray(nl3 + 1),
  };
}

/**
 * Check a bundle against the trusted keys (id → PEM) and the last sequence imported. Returns the parsed
 * bundle; throws BundleRefused with the reason in words otherwise. Order: signed at all, by a trusted key,
 * signature good, every item's bytes as signed, newer than what the store has.
 */
export function verifyBundle(
  file: Buffer,
  trusted: ReadonlyMap<string, string>,
  lastSequence: number | null,
  source = 'bundle',
): ParsedBundle {
  const b = parseBundle(file, source);
  if (!b.signature || b.header.keyId === '')
    throw new BundleRefused(
      'unsigned',
      `${source}: bundle is not signed; only signed bundles are imported`,
    );
  const pem = trusted.get(b.header.keyId);
  if (!pem)
    throw new BundleRefused(
      'unknown-key',
      `${source}: signed by key ${b.header.keyId}, which this store does not trust (weir bundle trust KEYFILE adds a publisher's public key)`,
    );
  if (!verify(null, b.signed, createPublicKey(pem), b.signature))
    throw new BundleRefused(
      'tampered',
      `${source}: signature does not match the header: the bundle was changed after signing`,
    );
  let end = 0;
  for (const it of b.header.items) {
    const data = b.payload.subarray(it.offset, it.offset + it.length);
    if (data.length !== it.length || sha256(data) !== it.sha256)
      throw new BundleRefused(
        'tampered',
        `${source}: item ${it.kind} ${it.name} does not match its signed SHA-256: the bundle was changed or damaged`,
      );
    end = Math.max(end, it.offset + it.length);
  }
  if (b.payload.length !== end)
    throw new BundleRefused(
      'tampered',
      `${source}: ${b.payload.length - end} bytes past the signed items`,
    );
  if (lastSequence !== null && b.header.sequence <= lastSequence)
    throw new BundleRefused(
      'older',
      `${source}: bundle ${b.header.sequence} is not newer than bundle ${lastSequence} already imported; refusing the rollback`,
    );
  return b;
}

export function itemData(b: ParsedBundle, it: BundleItem): Buffer {
  return b.payload.subarray(it.offset, it.offset + it.length);
}

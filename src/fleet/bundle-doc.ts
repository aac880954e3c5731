/**
 * Advisory bundles pushed by the manager: the offline bundle of `weir bundle make` (signed by its publisher's
 * key, with a sequence that only goes up) carried whole inside a manager-signed, versioned state document.
 * Two signatures, two checks at the site: the manager's document (who sent it, not an old one put back) and
 * the bundle's own (the site's trusted publisher keys, a sequence newer than the last bundle it imported),
 * exactly as `weir bundle import` checks a file from a USB stick.
 */
import { createHash } from 'node:crypto';
import { parseBundle } from '../assess/bundle/format.js';

export interface BundleDocBody {
  sequence: number;
  publisher: string;
  keyId: string;
  /** SHA-256 of the bundle file. */
  sha256: string;
  bytes: number;
  /** The bundle file, base64. */
  data: string;
}

/**
 * Bundles ride in one JetStream message: the hub and leaf configurations allow messages of 8 MiB, and base64
 * makes a bundle a third larger. A bigger bundle goes by USB (weir bundle import) or split in two.
 */
export const MAX_BUNDLE_BYTES = 6 * 1024 * 1024;

/** The document body for a bundle file (its header read, not trusted: the sites verify it). */
export function bundleBody(file: Buffer, source = 'bundle'): BundleDocBody {
  if (file.length > MAX_BUNDLE_BYTES)
    throw new Error(
      `${source}: ${file.length} bytes; the fleet carries bundles of at most ${MAX_BUNDLE_BYTES} bytes (import larger ones at each site)`,
    );
  const b = parseBundle(file, source);
  return {
    sequence: b.header.sequence,
    publisher: b.header.publisher,
    keyId: b.header.keyId,
    sha256: createHash('sha256').update(file).digest('hex'),
    bytes: file.length,
    data: file.toString('base64'),
  };
}

/** The bundle file a body carries, if it is whole (its digest matches); otherwise an Error. */
export function bundleFile(body: BundleDocBody): Buffer {
  if (typeof body?.data !== 'string') throw new Error('no bundle in the document');
  const file = Buffer.from(body.data, 'base64');
  if (createHash('sha256').update(file).digest('hex') !== body.sha256)
    throw new Error('the bundle does not match its digest');
  return file;
}

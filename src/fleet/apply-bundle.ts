/**
 * How a site takes an advisory bundle the manager pushed: the bundle file out of the (already verified)
 * manager document, then the site's own bundle import — the publisher's signature against the site store's
 * trusted keys, a sequence newer than the last bundle imported there — so the site's assessment matches
 * devices against it. A bundle that is forged, from an untrusted key or not newer is refused there (and
 * audited in the site's store) and reported to the manager; the document is dealt with, never retried.
 */
import { BundleRefused } from '../assess/bundle/format.js';
import { bundleFile, type BundleDocBody } from './bundle-doc.js';
import type { StateDoc } from './signed-doc.js';

export interface BundleApplyOptions {
  /** Import a bundle file into this site's store (null: the node runs without a store). Returns a summary. */
  importBundle?: ((file: Buffer, source: string) => Promise<string>) | null;
  onBundleImported?: (summary: string, doc: StateDoc) => void;
  onBundleRefused?: (reason: string, message: string, doc: StateDoc) => void;
}

export async function applyBundle(doc: StateDoc, o: BundleApplyOptions): Promise<void> {
  const body = doc.body as BundleDocBody;
  const source = `fleet bundle v${doc.version} (sequence ${String(body?.sequence)})`;
  let file: Buffer;
  try {
    file = bundleFile(body);
  } catch (e) {
    o.onBundleRefused?.('malformed', (e as Error).message, doc);
    return;
  }
  if (!o.importBundle) {
    o.onBundleRefused?.('no-store', 'this node runs without a store to import bundles into', doc);
    return;
  }
  try {
    o.onBundleImported?.(await o.importBundle(file, source), doc);
  } catch (e) {
    if (!(e instanceof BundleRefused)) throw e;
    o.onBundleRefused?.(e.reason, e.message, doc);
  }
}

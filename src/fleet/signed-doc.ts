/**
 * The manager's signed state documents (policy, blocklist, permits): Ed25519 over the exact bytes of the
 * document, with the key id, kind and a version that only goes up. The signing and key handling are the
 * offline bundles' (assess/bundle/format.ts); a node applies a document only when a trusted key signed it and
 * its version is newer than the one it applied — a forged document or an old one sent again is refused.
 */
import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { keyIdOf } from '../assess/bundle/format.js';
import { STATE_KINDS, type StateKind } from './subjects.js';

export interface StateDoc<B = unknown> {
  format: 'weir-state/1';
  kind: StateKind;
  version: number;
  issued: string;
  publisher: string;
  keyId: string;
  body: B;
}

export interface SignedEnvelope {
  /** The document as the JSON text the signature covers. */
  doc: string;
  sig: string;
}

/** Why a site refused a document: its signature or form, or (`not-applied`) this site could not put it in force. */
export type Refusal =
  | 'malformed'
  | 'unknown-key'
  | 'forged'
  | 'wrong-kind'
  | 'replayed'
  | 'not-applied';

export class DocRefused extends Error {
  constructor(
    readonly reason: Refusal,
    message: string,
    readonly version: number | null = null,
  ) {
    super(message);
  }
}

export function signDoc<B>(
  privateKeyPem: string,
  d: Omit<StateDoc<B>, 'format' | 'keyId' | 'issued'> & { issued?: string },
): Buffer {
  const key = createPrivateKey(privateKeyPem);
  if (key.asymmetricKeyType !== 'ed25519')
    throw new Error('state documents are signed with Ed25519');
  const doc: StateDoc<B> = {
    format: 'weir-state/1',
    kind: d.kind,
    version: d.version,
    issued: d.issued ?? new Date().toISOString(),
    publisher: d.publisher,
    keyId: keyIdOf(createPublicKey(key)),
    body: d.body,
  };
  const text = JSON.stringify(doc);
  const env: SignedEnvelope = {
    doc: text,
    sig: sign(null, Buffer.from(text), key).toString('base64'),
  };
  return Buffer.from(JSON.stringify(env));
}

/**
 * The document in `bytes` if a key of `trusted` signed it, it is of `kind` and newer than `lastVersion`;
 * otherwise DocRefused says why (and which version, when it could be read).
 */
export function verifyDoc(
  bytes: Uint8Array,
  kind: StateKind,
  trusted: ReadonlyMap<string, KeyObject>,
  lastVersion: number,
): StateDoc {
  let env: SignedEnvelope;
  let doc: StateDoc;
  try {
    env = JSON.parse(Buffer.from(bytes).toString('utf8')) as SignedEnvelope;
    if (typeof env?.doc !== 'string' || typeof env.sig !== 'string') throw new Error('no doc/sig');
    doc = JSON.parse(env.doc) as StateDoc;
  } catch (e) {
    throw new DocRefused('malformed', `not a signed state document (${(e as Error).message})`);
  }
  const version = Number.isSafeInteger(doc?.version) ? doc.version : null;
  if (
    doc?.format !== 'weir-state/1' ||
    version === null ||
    version < 1 ||
    !(STATE_KINDS as readonly string[]).includes(doc.kind)
  )
    throw new DocRefused('malformed', 'state document without format, kind or version', version);
  const key = trusted.get(doc.keyId);
  if (key === undefined)
    throw new DocRefused(
      'unknown-key',
      `signed by key ${doc.keyId}, which this node does not trust`,
      version,
    );
  if (!verify(null, Buffer.from(env.doc), key, Buffer.from(env.sig, 'base64')))
    throw new DocRefused('forged', `signature of ${doc.kind} v${version} does not verify`, version);
  if (doc.kind !== kind)
    throw new DocRefused('wrong-kind', `a ${doc.kind} document stored as ${kind}`, version);
  if (version <= lastVersion)
    throw new DocRefused(
      'replayed',
      `${kind} v${version} is not newer than v${lastVersion} already applied`,
      version,
    );
  return doc;
}

/** Trusted manager keys by id, from PEM texts. */
export function trustedKeys(pems: string[]): Map<string, KeyObject> {
  return new Map(
    pems.map((p) => {
      const k = createPublicKey(p);
      if (k.asymmetricKeyType !== 'ed25519') throw new Error('manager keys are Ed25519');
      return [keyIdOf(k), k] as const;
    }),
  );
}

import type { Command } from 'commander';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { appendAudit } from '../../store/audit-store.js';
import {
  addTrustedKey,
  lastBundleSequence,
  listTrustedKeys,
  trustedKeys,
} from '../../store/bundle-store.js';
import {
  ITEM_KINDS,
  keyIdOf,
  makeBundle,
  readPublicKey,
  verifyBundle,
  type ItemKind,
} from '../../assess/bundle/format.js';
import { CAN } from '../../respond/roles.js';
import {
  asCaller,
  type IdentityOpts,
  inStore,
  openExistingStore,
  STORE_HINT,
  withIdentity,
} from '../identity.js';
import { importBundleFile } from '../bundle-import.js';

interface MakeOpts {
  key: string;
  out: string;
  sequence?: string;
  publisher: string;
  advisories?: string[];
  oui?: string;
  attack?: string;
  vendorIds?: string;
  rules?: string[];
  unsigned?: boolean;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function registerBundle(program: Command): void {
  const cmd = program
    .command('bundle')
    .description(
      'signed offline bundles: advisories, OUI table, ATT&CK for ICS, vendor ids, rules',
    );
  cmd
    .command('keygen')
    .requiredOption('--out <prefix>', 'writes PREFIX.key (private, 0600) and PREFIX.pub')
    .description(
      'make an Ed25519 key pair for signing bundles (keep the .key off the plant network)',
    )
    .action((opts: { out: string }) => {
      const { publicKey, privateKey } = generateKeyPairSync('ed25519');
      for (const f of [`${opts.out}.key`, `${opts.out}.pub`])
        if (existsSync(f)) throw new Error(`${f} exists: not overwriting a key`);
      writeFileSync(`${opts.out}.key`, privateKey.export({ type: 'pkcs8', format: 'pem' }), {
        mode: 0o600,
      });
      writeFileSync(`${opts.out}.pub`, publicKey.export({ type: 'spki', format: 'pem' }));
      process.stdout.write(
        `key ${keyIdOf(publicKey)}: ${opts.out}.key (private), ${opts.out}.pub (public)\n`,
      );
    });
  cmd
    .command('make')
    .requiredOption('--key <file>', 'Ed25519 private key (PEM) to sign with')
    .requiredOption('--out <file>', 'bundle file to write')
    .option(
      '--sequence <n>',
      'bundle number, higher than every earlier bundle (default: now, in seconds since 1970)',
    )
    .option('--publisher <name>', 'who publishes the bundle', 'weir')
    .option(
      '--advisories <path>',
      'CSAF archive (.tar.gz, .zip) or CSAF JSON file (repeatable)',
      collect,
    )
    .option('--oui <file>', 'OUI table (IEEE oui.txt / Wireshark manuf)')
    .option('--attack <file>', 'MITRE ATT&CK for ICS (STIX JSON)')
    .option('--vendor-ids <file>', 'vendor-id tables (ENIP, BACnet, Profinet) as JSON')
    .option('--rules <file>', 'detection rule update (repeatable)', collect)
    .option('--unsigned', 'leave the bundle unsigned (every import refuses it; for review only)')
    .description('make one bundle file from the given items')
    .action((opts: MakeOpts) => {
      const items: Array<{ kind: ItemKind; name: string; data: Buffer }> = [];
      const add = (kind: ItemKind, f: string | undefined) => {
        if (f) items.push({ kind, name: path.basename(f), data: readFileSync(f) });
      };
      for (const f of opts.advisories ?? []) add('advisories', f);
      add('oui', opts.oui);
      add('attack-ics', opts.attack);
      add('vendor-ids', opts.vendorIds);
      for (const f of opts.rules ?? []) add('rules', f);
      if (items.length === 0)
        throw new Error(
          `nothing to bundle: give at least one of --advisories, --oui, --attack, --vendor-ids, --rules`,
        );
      const seq =
        opts.sequence === undefined ? Math.floor(Date.now() / 1000) : Number(opts.sequence);
      const bundle = makeBundle({
        items,
        sequence: seq,
        publisher: opts.publisher,
        privateKeyPem: opts.unsigned ? null : readFileSync(opts.key, 'utf8'),
      });
      writeFileSync(opts.out, bundle);
      process.stdout.write(
        `${opts.out}: bundle ${seq}, ${items.length} items (${items.map((i) => `${i.kind} ${i.name}`).join(', ')}), ${bundle.length} bytes${opts.unsigned ? ', UNSIGNED' : ''}\n`,
      );
    });
  cmd
    .command('verify')
    .argument('<file>', 'bundle file')
    .option('--db <path>', "check against this store's trusted keys and last bundle")
    .option('--key <file>', 'check against this public key instead')
    .description(
      'check a bundle without importing it (exit 1 with the reason when it would be refused)',
    )
    .action((file: string, opts: { db?: string; key?: string }) => {
      if (!opts.db && !opts.key)
        throw new Error('give --db STORE or --key PUBLIC.pem to verify against');
      let trusted: Map<string, string>;
      let last: number | null = null;
      if (opts.key) {
        const pem = readFileSync(opts.key, 'utf8');
        trusted = new Map([[keyIdOf(readPublicKey(pem, opts.key)), pem]]);
      } else {
        const db = openExistingStore(opts.db!, STORE_HINT);
        try {
          trusted = trustedKeys(db);
          last = lastBundleSequence(db);
        } finally {
          db.close();
        }
      }
      const b = verifyBundle(readFileSync(file), trusted, last, file);
      process.stdout.write(
        `${file}: good: bundle ${b.header.sequence} from ${b.header.publisher}, signed by key ${b.header.keyId}, ${b.header.items.length} items (${b.header.items.map((i) => `${i.kind} ${i.name}`).join(', ')})\n`,
      );
    });
  withIdentity(cmd.command('trust'))
    .argument('<keyfile>', "publisher's Ed25519 public key (PEM)")
    .requiredOption('--db <path>', 'store that will accept bundles signed with it')
    .option('--name <name>', 'who the key belongs to (default: the file name)')
    .description('trust a public key for bundle imports (as the logged-in person; audited)')
    .action((keyfile: string, opts: IdentityOpts & { db: string; name?: string }) =>
      asCaller(opts.db, opts, CAN.trustKeys, 'trust bundle keys', (db, who) => {
        const pem = readFileSync(keyfile, 'utf8');
        const keyId = keyIdOf(readPublicKey(pem, keyfile));
        const name = opts.name ?? path.basename(keyfile);
        const added = addTrustedKey(db, { keyId, name, pem: pem.trim() + '\n', by: who.name });
        if (added)
          appendAudit(db, {
            actor: who.name,
            action: 'bundle.trust',
            subject: keyId,
            details: { name, file: keyfile },
          });
        process.stdout.write(
          added ? `trusted key ${keyId} (${name})\n` : `key ${keyId} was already trusted\n`,
        );
      }),
    );
  cmd
    .command('keys')
    .requiredOption('--db <path>', 'store')
    .description('list the trusted bundle keys')
    .action((opts: { db: string }) => {
      inStore(opts.db, (db) => {
        for (const k of listTrustedKeys(db))
          process.stdout.write(`${k.keyId}\t${k.name}\ttrusted by ${k.addedBy} at ${k.addedAt}\n`);
      });
    });
  withIdentity(cmd.command('import'))
    .argument('<file>', 'bundle file')
    .requiredOption('--db <path>', 'store to import into')
    .description(
      `verify and import a bundle (items: ${ITEM_KINDS.join(', ')}); as the logged-in person; audited`,
    )
    .action((file: string, opts: IdentityOpts & { db: string }) =>
      asCaller(opts.db, opts, CAN.updateKnowledge, 'import bundles', async (db, who) => {
        const r = await importBundleFile(db, file, who.name);
        process.stdout.write(`${r.line}\n`);
      }),
    );
}

import type { Asset } from '../discover/model.js';
import { ouiBlocksOf } from '../discover/oui.js';
import { protocolDescriptor } from '../dissect/registry.js';
import { CIP_VENDORS } from '../dissect/protocols/cip-vendors.js';
import { DEVICE_TYPES } from '../dissect/protocols/enip.js';
import { BACNET_VENDORS } from '../dissect/protocols/bacnet-tables.js';
import type { DecoyService } from '../policy/decoy-model.js';
import type { DecoyIdentity, RegisterBand } from './identity-model.js';
import type { Rng } from './random.js';

export interface DeriveInput {
  /** The real device whose class the decoy takes (vendor, family, firmware); null: the zone has none identified. */
  clone: Asset | null;
  /** Every device of the zone: serials, names, MACs and instance numbers the decoy must not repeat. */
  zone: readonly Asset[];
  /** Value ranges seen on the clone ('holding_register:3' → [min, max]), so the decoy's values look like its. */
  values: Readonly<Record<string, [number, number]>>;
  ip: string;
  services: readonly DecoyService[];
  /** Service → port, when moving-target defence moved one; default: the protocol's own port. */
  ports?: Partial<Record<DecoyService, number>>;
  rng: Rng;
}

/** Well-known server port of a decoy service, from the protocol's descriptor (http: 80). */
export function defaultPort(s: DecoyService): number {
  if (s === 'http') return 80;
  const p = protocolDescriptor(s)?.serverPort;
  if (!p) throw new Error(`protocol ${s} has no server port`);
  return p.port;
}

/** Which decoy services a device answers, by the protocols the inventory saw it serve. */
export function servicesOf(a: Asset): DecoyService[] {
  const out: DecoyService[] = [];
  for (const s of ['modbus', 's7comm', 'enip', 'bacnet'] as const)
    if (a.serves.includes(s) || (s === 'enip' && a.serves.includes('cip'))) out.push(s);
  return out;
}

/**
 * A new identity of the clone's class: same vendor, family and firmware (what a plant buys in batches), a
 * serial of the same shape but never one of the zone's, a name in the zone's naming scheme, a NIC address in
 * the vendor's own OUI block, and register values in the bands the real device's values move in.
 */
export function deriveIdentity(input: DeriveInput): DecoyIdentity {
  const { clone, zone, rng } = input;
  const id = clone?.identity ?? {};
  const serials = new Set(zone.map((a) => a.identity.serial).filter((s): s is string => !!s));
  const names = new Set(zone.flatMap((a) => a.hostnames));
  const vendor = id.vendor ?? clone?.macVendor ?? 'Siemens';
  const product = id.product ?? id.model ?? 'PLC';
  const model = id.model ?? product;
  const firmware = id.firmware ?? 'V1.0.0';
  const serial = freshSerial(id.serial ?? 'S C-A1B234567890', serials, rng);
  const hostname = freshName(clone?.hostnames[0] ?? 'PLC', names, rng);
  const mac = freshMac(clone?.mac ?? null, vendor, new Set(zone.map((a) => a.mac ?? '')), rng);
  const ver = versionTriple(firmware);
  const services = [...input.services];
  const ports: Partial<Record<DecoyService, number>> = {};
  for (const s of services) ports[s] = input.ports?.[s] ?? defaultPort(s);
  const cipVendor = idByName(CIP_VENDORS, vendor) ?? 1;
  const bacnetVendor = idByName(BACNET_VENDORS, vendor) ?? 7;
  const usedInstances = new Set(zone.map((a) => /device (\d+)/.exec(a.identity.model ?? '')?.[1]));
  let instance = rng.int(1000, 4_000_000);
  while (usedInstances.has(String(instance))) instance = rng.int(1000, 4_000_000);
  return {
    ip: input.ip,
    mac,
    clonedFrom: clone?.ips[0] ?? null,
    vendor,
    product,
    model,
    firmware,
    serial,
    hostname,
    services,
    ports,
    modbus: {
      objects: [vendor, model, firmware.replace(/^V/i, ''), '', product, model, hostname],
      // As the device reports it: its basic identification objects joined (what pymodbus-based and many embedded stacks do).
      serverId: [vendor, model, firmware.replace(/^V/i, '')].join('-'),
    },
    s7: {
      // The CPU's order number: SZL 0x0011 names it for the module and for its hardware (the same on a CPU);
      // the inventory's model may instead hold the module type name of SZL 0x001C.
      orderNumber: id.hardware ?? id.model ?? model,
      hardwareOrder: id.hardware ?? id.model ?? model,
      version: ver,
      systemName: hostname,
      moduleName: product,
      plantId: '',
      copyright: 'Original Siemens Equipment',
      serial,
      moduleType: product,
    },
    cip: {
      vendorId: cipVendor,
      deviceType: idByName(DEVICE_TYPES, id.deviceType ?? '') ?? 0x0e,
      productCode: rng.int(10, 200),
      revision: [ver[0], ver[1]],
      serial: Number.parseInt(serial.replace(/[^0-9a-f]/gi, '').slice(-8) || '1', 16) >>> 0,
      productName: product,
      status: 0x0060,
    },
    bacnet: {
      instance,
      vendorId: bacnetVendor,
      vendorName: vendor,
      model,
      firmware,
      application: `${model} ${firmware}`,
      objectName: hostname,
      description: product,
      location: '',
    },
    http: { title: `${product} ${hostname}`, server: `${vendor.split(/\s/)[0]} Web Server` },
    registers: {
      holding: bands(input.values, 'holding_register', rng),
      input: bands(input.values, 'input_register', rng),
    },
  };
}

/** Same shape as `like` (digits stay digits, letters letters, separators where they were); never one in `taken`. */
export function freshSerial(like: string, taken: ReadonlySet<string>, rng: Rng): string {
  const hex = /^[0-9a-f]+$/i.test(like.replace(/[^0-9a-z]/gi, ''));
  // The leading third (plant code, year, family) is what a batch shares; the rest is the unit's.
  const keep = Math.floor(like.length / 3);
  for (let tries = 0; tries < 100; tries++) {
    let out = like.slice(0, keep);
    for (const ch of like.slice(keep)) {
      if (/[0-9]/.test(ch)) out += String(rng.int(0, 9));
      else if (/[a-f]/i.test(ch) && hex) out += rng.pick([...'abcdef']);
      else if (/[A-Z]/.test(ch)) out += rng.pick([...'ABCDEFGHJKLMNPRSTUVWXYZ']);
      else if (/[a-z]/.test(ch)) out += rng.pick([...'abcdefghjkmnprstuvwxyz']);
      else out += ch;
    }
    if (out !== like && !taken.has(out)) return out;
  }
  return `${like}${rng.int(10, 99)}`;
}

/** The zone's naming scheme with a number nobody uses: PLC-1, PLC-2 → PLC-7. */
export function freshName(like: string, taken: ReadonlySet<string>, rng: Rng): string {
  // Only a trailing number is a unit number; digits inside a name (S7-300, SNAP7) belong to the name.
  const m = /^(.*?)(\d+)$/.exec(like);
  for (let tries = 0; tries < 100; tries++) {
    const n = rng.int(2, 99);
    const out = m ? `${m[1]}${String(n).padStart(m[2]!.length, '0')}` : `${like}-${n}`;
    if (out !== like && !taken.has(out)) return out;
  }
  return `${like}-${rng.int(100, 999)}`;
}

/** A unicast MAC in the clone's own OUI block (or one of its vendor's), unused in the zone. */
export function freshMac(
  cloneMac: string | null,
  vendor: string,
  taken: ReadonlySet<string>,
  rng: Rng,
): string {
  const blocks = ouiBlocksOf(vendor);
  const block =
    cloneMac !== null
      ? cloneMac.replace(/[^0-9a-f]/gi, '').slice(0, 6)
      : blocks.length
        ? rng.pick(blocks)
        : '001b1b'; // Siemens AG: the most common PLC NIC block when nothing better is known
  for (;;) {
    const tail = [0, 0, 0].map(() => rng.int(0, 255).toString(16).padStart(2, '0'));
    const mac = [...block.toLowerCase().match(/../g)!, ...tail].join(':');
    if (!taken.has(mac)) return mac;
  }
}

function versionTriple(fw: string): [number, number, number] {
  const n = fw.match(/\d+/g)?.map(Number) ?? [];
  return [n[0] ?? 1, n[1] ?? 0, n[2] ?? 0];
}

function idByName(table: Readonly<Record<number, string>>, name: string): number | undefined {
  const want = name.toLowerCase();
  if (!want) return undefined;
  let loose: number | undefined;
  for (const [k, v] of Object.entries(table)) {
    const l = v.toLowerCase();
    if (l === want) return Number(k);
    if (loose === undefined && (l.startsWith(want) || want.startsWith(l))) loose = Number(k);
  }
  return loose;
}

/** Bands from the clone's observed values; without any, a handful of slowly moving process values. */
function bands(
  values: Readonly<Record<string, [number, number]>>,
  space: string,
  rng: Rng,
): RegisterBand[] {
  const out: RegisterBand[] = [];
  for (const [k, [lo, hi]] of Object.entries(values)) {
    const [sp, a] = k.split(':');
    const addr = Number(a);
    if (sp !== space || !Number.isInteger(addr) || addr > 1023) continue;
    // Stay within what the real device showed, a little off its centre so the two never read the same.
    const span = Math.max(1, hi - lo);
    out[addr] = {
      mid: lo + span / 2 + rng.int(-Math.floor(span / 8), Math.floor(span / 8)),
      swing: Math.max(1, Math.floor(span / 2)),
      period: rng.int(60, 900),
      phase: rng.next() * Math.PI * 2,
    };
  }
  for (let i = 0; i < 32; i++)
    out[i] ??= {
      mid: rng.int(50, 4000),
      swing: rng.int(1, 40),
      period: rng.int(60, 900),
      phase: rng.next() * Math.PI * 2,
    };
  return out;
}

/** A register's value at time `t` (seconds): a smooth drift with a little sensor noise, 0..65535. */
export function registerValue(b: RegisterBand | undefined, t: number, noise: number): number {
  if (b === undefined) return 0;
  const v = b.mid + b.swing * Math.sin((2 * Math.PI * t) / b.period + b.phase) + noise;
  return Math.max(0, Math.min(65535, Math.round(v)));
}

import type { DecoyService } from '../policy/decoy-model.js';

/** What one decoy says about itself on every protocol it speaks: one device, consistent across protocols. */
export interface DecoyIdentity {
  ip: string;
  mac: string;
  /** Which real device's class it clones (its address), for the audit trail; null when built from a class alone. */
  clonedFrom: string | null;
  vendor: string;
  product: string;
  model: string;
  firmware: string;
  serial: string;
  hostname: string;
  services: DecoyService[];
  /** Ports per service (moving-target defence may move a service off its well-known port). */
  ports: Partial<Record<DecoyService, number>>;
  modbus: {
    /** Device identification objects 0..6 (vendor, product code, revision, URL, product name, model, application). */
    objects: string[];
    /** Report server id data (FC 17), after the byte count. */
    serverId: string;
  };
  s7: {
    orderNumber: string;
    hardwareOrder: string;
    version: [number, number, number];
    systemName: string;
    moduleName: string;
    plantId: string;
    copyright: string;
    serial: string;
    moduleType: string;
  };
  cip: {
    vendorId: number;
    deviceType: number;
    productCode: number;
    revision: [number, number];
    serial: number;
    productName: string;
    status: number;
  };
  bacnet: {
    instance: number;
    vendorId: number;
    vendorName: string;
    model: string;
    firmware: string;
    application: string;
    objectName: string;
    description: string;
    location: string;
  };
  http: { title: string; server: string };
  /** Register bands per address (holding and input registers) that the changing values stay within. */
  registers: { holding: RegisterBand[]; input: RegisterBand[] };
}

/** One register's plausible behaviour: a value drifting around `mid` by up to `swing` over `period` seconds. */
export interface RegisterBand {
  mid: number;
  swing: number;
  period: number;
  phase: number;
}

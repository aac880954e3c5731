import { identityProtocols, industrialServices } from '../dissect/registry.js';

/**
 * Service names for well-known ports, so edges without a dissected protocol still read like a plant engineer's
 * map. Industrial protocols' ports come from their descriptors (src/dissect/protocols/); these are the others.
 */
const TCP: Record<number, string> = {
  20: 'ftp-data',
  21: 'ftp',
  22: 'ssh',
  23: 'telnet',
  25: 'smtp',
  53: 'dns',
  80: 'http',
  88: 'kerberos',
  110: 'pop3',
  135: 'msrpc',
  139: 'netbios-ssn',
  143: 'imap',
  389: 'ldap',
  443: 'https',
  445: 'smb',
  636: 'ldaps',
  1433: 'mssql',
  1911: 'niagara-fox',
  1962: 'pcworx',
  3306: 'mysql',
  3389: 'rdp',
  4911: 'niagara-fox-tls',
  5432: 'postgresql',
  5900: 'vnc',
  8080: 'http-alt',
  18245: 'ge-srtp',
  20547: 'proconos',
};
const UDP: Record<number, string> = {
  53: 'dns',
  67: 'dhcp',
  68: 'dhcp',
  69: 'tftp',
  123: 'ntp',
  137: 'nbns',
  138: 'netbios-dgm',
  161: 'snmp',
  162: 'snmp-trap',
  514: 'syslog',
  1900: 'ssdp',
  5353: 'mdns',
  34962: 'profinet-rt',
  34963: 'profinet-rt',
  34964: 'profinet-cm',
};

for (const [port, name] of industrialServices('tcp')) TCP[port] = name;
for (const [port, name] of industrialServices('udp')) UDP[port] = name;

export function serviceName(transport: 'tcp' | 'udp', port: number): string | undefined {
  return transport === 'tcp' ? TCP[port] : UDP[port];
}

/**
 * Which end of a TCP/UDP packet is the server, without per-connection state: a named service port wins,
 * then a port below 1024, then the lower port. Deterministic, so both directions land on one edge.
 */
export function serverIsDst(transport: 'tcp' | 'udp', srcPort: number, dstPort: number): boolean {
  const names = transport === 'tcp' ? TCP : UDP;
  const d = names[dstPort] !== undefined,
    s = names[srcPort] !== undefined;
  if (d !== s) return d;
  const dl = dstPort < 1024,
    sl = srcPort < 1024;
  if (dl !== sl) return dl;
  return dstPort <= srcPort;
}

/** Protocols that identify hosts (addresses, names) rather than carry process traffic. */
export const IDENTITY_PROTOCOLS: ReadonlySet<string> = identityProtocols;

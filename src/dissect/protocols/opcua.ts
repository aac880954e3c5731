import type { ProtocolDescriptor } from '../protocol.js';

/**
 * OPC UA binary (opc.tcp): not dissected yet. Declared so policies can name it and the service map and the
 * new-conversation detector treat its port as industrial.
 */
export const opcuaProtocol: ProtocolDescriptor<never> = {
  name: 'opcua',
  title: 'OPC UA',
  industrial: true,
  serverPort: { transport: 'tcp', port: 4840 },
  ports: { tcp: [], udp: [] },
  etherTypes: [],
  functions: {},
  operations: {},
  anomalies: [],
};

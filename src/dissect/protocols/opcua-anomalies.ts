/** Kinds of malformed OPC UA message (the `kind` of a Message's anomaly). */
export const OPCUA_ANOMALIES = [
  'header_truncated',
  'body_truncated',
  'type_id_invalid',
  'chunk_type_invalid',
  'chunk_abandoned',
] as const;
export type OpcuaAnomaly = (typeof OPCUA_ANOMALIES)[number];

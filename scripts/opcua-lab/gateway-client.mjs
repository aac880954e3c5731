// A node-opcua client for the gateway lab test (test/enforce/gateway-peers-lab.test.ts): one connection to `url`
// under the given security, then each step in order, printing one JSON line per step. Steps: read (the setpoint),
// write:<value> (the setpoint), call (Line1.StartBatch). A step that fails prints its error and the next runs.
//
//   node gateway-client.mjs opc.tcp://host:port ./pki None|Sign|SignAndEncrypt read write:99 read
import {
  OPCUAClient,
  OPCUACertificateManager,
  MessageSecurityMode,
  SecurityPolicy,
  AttributeIds,
  DataType,
} from 'node-opcua';

const [url, pki, security, ...steps] = process.argv.slice(2);
const print = (o) => console.log(JSON.stringify(o));
const clientCertificateManager = new OPCUACertificateManager({
  rootFolder: pki,
  automaticallyAcceptUnknownCertificate: true,
});
await clientCertificateManager.initialize();
const client = OPCUAClient.create({
  applicationName: 'Weir Gateway Lab Client',
  applicationUri: 'urn:weir-lab:gateway-client',
  clientCertificateManager,
  securityMode: MessageSecurityMode[security],
  securityPolicy: security === 'None' ? SecurityPolicy.None : SecurityPolicy.Basic256Sha256,
  endpointMustExist: false,
  connectionStrategy: { maxRetry: 0, initialDelay: 100, maxDelay: 200 },
  // A request the gateway drops is never answered: give up on it quickly.
  defaultTransactionTimeout: 3000,
});
const setpoint = 'ns=1;s=Line1.Setpoint';
let session;
try {
  await client.connect(url);
  session = await client.createSession();
  print({ step: 'session', ok: true });
} catch (err) {
  print({ step: 'session', ok: false, error: String(err.message ?? err).slice(0, 200) });
  await client.disconnect().catch(() => undefined);
  process.exit(0);
}
for (const step of steps) {
  try {
    if (step === 'read') {
      const v = await session.read({ nodeId: setpoint, attributeId: AttributeIds.Value });
      print({ step, ok: v.statusCode.isGood(), value: v.value.value });
    } else if (step.startsWith('write:')) {
      const status = await session.write({
        nodeId: setpoint,
        attributeId: AttributeIds.Value,
        value: { value: { dataType: DataType.Double, value: Number(step.slice(6)) } },
      });
      print({ step, ok: status.isGood(), status: status.name });
    } else if (step === 'call') {
      const r = await session.call({
        objectId: 'ns=1;i=1000',
        methodId: 'ns=1;s=Line1.StartBatch',
        inputArguments: [{ dataType: DataType.UInt32, value: 7 }],
      });
      print({ step, ok: r.statusCode.isGood(), status: r.statusCode.name });
    }
  } catch (err) {
    print({ step, ok: false, error: String(err.message ?? err).slice(0, 200) });
  }
}
await session.close().catch(() => undefined);
await client.disconnect().catch(() => undefined);
process.exit(0);

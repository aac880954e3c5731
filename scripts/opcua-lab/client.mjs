// The OPC UA fixture's client sessions against server.mjs, one TCP connection each:
//  1. security None: GetEndpoints, a session, Read of BuildInfo, a Browse, a Read of 300 nodes whose response
//     spans several 8 KiB chunks, a Write, a chunked Write of a long recipe string and its
//     chunked Read back, a Call, a subscription;
//  2. Basic256Sha256 SignAndEncrypt: a session, a Read and a Write (all encrypted on the wire);
//  3. Basic256Sha256 Sign: a session and a Read (signed, readable).
import {
  OPCUAClient,
  OPCUACertificateManager,
  MessageSecurityMode,
  SecurityPolicy,
  AttributeIds,
  DataType,
  TimestampsToReturn,
} from 'node-opcua';

const [url, pki] = [process.argv[2], process.argv[3] ?? './pki-client'];
const clientCertificateManager = new OPCUACertificateManager({
  rootFolder: pki,
  automaticallyAcceptUnknownCertificate: true,
});
await clientCertificateManager.initialize();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function client(securityMode, securityPolicy) {
  return OPCUAClient.create({
    applicationName: 'Weir Lab Engineering Station',
    applicationUri: 'urn:weir-lab:engineering-station',
    clientCertificateManager,
    securityMode,
    securityPolicy,
    endpointMustExist: false,
    connectionStrategy: { maxRetry: 0 },
    // The smallest buffers Part 6 allows, so large services travel in several chunks.
    transportSettings: { receiveBufferSize: 8192, sendBufferSize: 8192 },
  });
}

const setpoint = 'ns=1;s=Line1.Setpoint';
{
  const c = client(MessageSecurityMode.None, SecurityPolicy.None);
  await c.connect(url);
  await c.getEndpoints();
  const s = await c.createSession();
  await s.read({ nodeId: 'i=2260', attributeId: AttributeIds.Value }); // Server_ServerStatus_BuildInfo
  await s.browse('ns=1;i=1000');
  await s.read({ nodeId: setpoint, attributeId: AttributeIds.Value });
  const many = [];
  for (let i = 0; i < 300; i++)
    many.push({ nodeId: 'ns=1;s=Line1.Counter', attributeId: AttributeIds.Value });
  await s.read(many, 0);
  await s.write({
    nodeId: setpoint,
    attributeId: AttributeIds.Value,
    value: { value: { dataType: DataType.Double, value: 80.25 } },
  });
  await s.write({
    nodeId: 'ns=1;s=Line1.Recipe',
    attributeId: AttributeIds.Value,
    value: { value: { dataType: DataType.String, value: 'step;'.repeat(4000) } },
  });
  await s.read({ nodeId: 'ns=1;s=Line1.Recipe', attributeId: AttributeIds.Value }); // a chunked response
  await s.call({
    objectId: 'ns=1;i=1000',
    methodId: 'ns=1;s=Line1.StartBatch',
    inputArguments: [{ dataType: DataType.UInt32, value: 7 }],
  });
  const sub = await s.createSubscription2({
    requestedPublishingInterval: 100,
    requestedLifetimeCount: 100,
    requestedMaxKeepAliveCount: 10,
    publishingEnabled: true,
  });
  await sub.monitor(
    { nodeId: 'ns=1;s=Line1.Counter', attributeId: AttributeIds.Value },
    { samplingInterval: 100, queueSize: 1 },
    TimestampsToReturn.Both,
  );
  await sleep(700);
  await sub.terminate();
  await s.close();
  await c.disconnect();
}
for (const mode of [MessageSecurityMode.SignAndEncrypt, MessageSecurityMode.Sign]) {
  const c = client(mode, SecurityPolicy.Basic256Sha256);
  await c.connect(url);
  const s = await c.createSession();
  await s.read({ nodeId: setpoint, attributeId: AttributeIds.Value });
  if (mode === MessageSecurityMode.SignAndEncrypt)
    await s.write({
      nodeId: setpoint,
      attributeId: AttributeIds.Value,
      value: { value: { dataType: DataType.Double, value: 75 } },
    });
  await s.close();
  await c.disconnect();
}
console.log('done');
process.exit(0);

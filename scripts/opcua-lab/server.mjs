// A node-opcua server for the OPC UA fixture: a setpoint and a counter to read and write, a method to call, and
// endpoints with security None and Basic256Sha256 Sign / SignAndEncrypt. Run by scripts/gen-opcua-fixture.sh.
import {
  OPCUAServer,
  OPCUACertificateManager,
  DataType,
  Variant,
  StatusCodes,
  MessageSecurityMode,
  SecurityPolicy,
} from 'node-opcua';

const [port, pki] = [Number(process.argv[2] ?? 4840), process.argv[3] ?? './pki-server'];
const serverCertificateManager = new OPCUACertificateManager({
  rootFolder: pki,
  automaticallyAcceptUnknownCertificate: true,
});
await serverCertificateManager.initialize();

const server = new OPCUAServer({
  port,
  serverCertificateManager,
  securityModes: [
    MessageSecurityMode.None,
    MessageSecurityMode.Sign,
    MessageSecurityMode.SignAndEncrypt,
  ],
  securityPolicies: [SecurityPolicy.None, SecurityPolicy.Basic256Sha256],
  allowAnonymous: true,
  serverInfo: {
    applicationUri: 'urn:weir-lab:opcua-server',
    productUri: 'urn:weir-lab:line1-controller',
    applicationName: { text: 'Weir Lab Line 1 Controller' },
  },
  buildInfo: {
    productName: 'Line1 Controller',
    manufacturerName: 'Weir Lab',
    softwareVersion: '2.4.1',
    buildNumber: '1187',
  },
});
await server.initialize();

const addressSpace = server.engine.addressSpace;
const ns = addressSpace.getOwnNamespace();
const line = ns.addObject({ organizedBy: addressSpace.rootFolder.objects, browseName: 'Line1' });
let setpoint = 72.5;
ns.addVariable({
  componentOf: line,
  nodeId: 's=Line1.Setpoint',
  browseName: 'Setpoint',
  dataType: 'Double',
  value: {
    get: () => new Variant({ dataType: DataType.Double, value: setpoint }),
    set: (v) => {
      setpoint = v.value;
      return StatusCodes.Good;
    },
  },
});
let counter = 0;
setInterval(() => counter++, 50).unref();
ns.addVariable({
  componentOf: line,
  nodeId: 's=Line1.Counter',
  browseName: 'Counter',
  dataType: 'UInt32',
  value: { get: () => new Variant({ dataType: DataType.UInt32, value: counter }) },
});
let recipe = '';
ns.addVariable({
  componentOf: line,
  nodeId: 's=Line1.Recipe',
  browseName: 'Recipe',
  dataType: 'String',
  value: {
    get: () => new Variant({ dataType: DataType.String, value: recipe }),
    set: (v) => {
      recipe = v.value;
      return StatusCodes.Good;
    },
  },
});
const start = ns.addMethod(line, {
  nodeId: 's=Line1.StartBatch',
  browseName: 'StartBatch',
  inputArguments: [{ name: 'batch', dataType: DataType.UInt32 }],
  outputArguments: [{ name: 'accepted', dataType: DataType.Boolean }],
});
start.bindMethod((inputs, _context, callback) => {
  callback(null, {
    statusCode: StatusCodes.Good,
    outputArguments: [{ dataType: DataType.Boolean, value: inputs[0].value > 0 }],
  });
});

await server.start();
console.log('ready');
process.on('SIGTERM', async () => {
  await server.shutdown(0);
  process.exit(0);
});

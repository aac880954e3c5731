// Writes the crafted fixtures: node dist/test/fixtures-gen/write.js [dir]
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { iec104Session } from './iec104-session.js';
import { identityFrames } from './identity-frames.js';
import { hartipSession } from './hartip-session.js';
import { finsSession } from './fins-session.js';

const dir = path.resolve(process.argv[2] ?? 'fixtures');
writeFileSync(path.join(dir, 'iec104-session.pcap'), iec104Session());
writeFileSync(path.join(dir, 'identity.pcap'), identityFrames());
writeFileSync(path.join(dir, 'hartip-session.pcap'), hartipSession());
writeFileSync(path.join(dir, 'fins-session.pcap'), finsSession());
console.log(
  `wrote ${dir}/iec104-session.pcap, identity.pcap, hartip-session.pcap and fins-session.pcap`,
);

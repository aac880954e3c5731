/**
 * Frames where tshark 4.0 is wrong and Weir is right, each checked by hand from the bytes. The differential
 * test still asserts Weir's exact output on them; they are listed apart in its report.
 */
export interface Erratum {
  file: string;
  frame: number;
  protocol: string;
  weir: number[];
  why: string;
}

const DNP3_WRAP =
  'tshark 4.0 does not follow the DNP3 transport sequence wrap 63→0 (IEEE 1815 §8.2: modulo 64): the fragment whose first segment has seq 63 and last has seq 0 is never completed, and a later FIR+FIN seq 0 segment is wrongly joined to it ("conflicting data in fragment overlap")';

export const ERRATA: Erratum[] = [
  { file: 'dnp3_example.pcap', frame: 18, protocol: 'dnp3', weir: [129], why: DNP3_WRAP },
  { file: 'dnp3_example.pcap', frame: 114, protocol: 'dnp3', weir: [129], why: DNP3_WRAP },
  { file: 'dnp3_example.pcap', frame: 210, protocol: 'dnp3', weir: [129], why: DNP3_WRAP },
  {
    file: 'dnp3_example.pcap',
    frame: 311,
    protocol: 'dnp3',
    weir: [129],
    why: `${DNP3_WRAP}; the frame itself is a complete RESPONSE (application control 0xc8, function 0x81)`,
  },
  { file: 'dnp3_example.pcap', frame: 810, protocol: 'dnp3', weir: [130], why: DNP3_WRAP },
];

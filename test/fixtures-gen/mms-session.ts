// An IEC 61850 MMS association crafted from the standards (RFC 1006 TPKT, ISO 8073 COTP, ISO 8327 session,
// ISO 8823 presentation, ISO 8650 ACSE, ISO 9506-2 MMS; IEC 61850-8-1 names): a substation gateway connects to an
// IED, identifies it, browses its logical devices, reads a measurement, operates a breaker, fetches a
// disturbance record over the file services, receives a report, and concludes.
import { pcap, TcpFlow, type Endpoint } from './pcap-writer.js';

export const gateway: Endpoint = { mac: '02:00:5e:61:00:0a', ip: '10.61.0.10', port: 50102 };
export const ied: Endpoint = { mac: '02:00:5e:61:00:14', ip: '10.61.0.20', port: 102 };

/** One BER element: tag bytes (already with class and form), then the definite length, then the content. */
export function ber(tag: number | number[], ...content: Array<Buffer | number[]>): Buffer {
  const body = Buffer.concat(content.map((c) => (Buffer.isBuffer(c) ? c : Buffer.from(c))));
  const n = body.length;
  const len = n < 128 ? [n] : n < 256 ? [0x81, n] : [0x82, n >> 8, n & 255];
  return Buffer.concat([Buffer.from(Array.isArray(tag) ? tag : [tag]), Buffer.from(len), body]);
}
const str = (tag: number | number[], s: string): Buffer => ber(tag, Buffer.from(s, 'latin1'));
const int = (tag: number | number[], v: number): Buffer => {
  const bytes: number[] = [];
  do {
    bytes.unshift(v & 255);
    v = Math.floor(v / 256);
  } while (v > 0);
  if (bytes[0]! & 0x80) bytes.unshift(0);
  return ber(tag, bytes);
};

const TPKT = (body: Buffer): Buffer =>
  Buffer.concat([Buffer.from([3, 0, (body.length + 4) >> 8, (body.length + 4) & 255]), body]);
const dt = (data: Buffer): Buffer => TPKT(Buffer.concat([Buffer.from([2, 0xf0, 0x80]), data]));

/** COTP CR/CC with the TSAPs IEC 61850 stacks use (0x0001 both ends) and TPDU size 1024. */
export function cotpConnect(type: 0xe0 | 0xd0): Buffer {
  return TPKT(
    Buffer.from([
      0x11,
      type,
      0,
      type === 0xd0 ? 1 : 0,
      0,
      1,
      0,
      0xc0,
      1,
      0x0a,
      0xc1,
      2,
      0,
      1,
      0xc2,
      2,
      0,
      1,
    ]),
  );
}

const OID_ACSE = [0x52, 0x01, 0x00, 0x01];
const OID_MMS = [0x28, 0xca, 0x22, 0x02, 0x01];
const OID_BER = [0x51, 0x01];
const OID_MMS_CONTEXT = [0x28, 0xca, 0x22, 0x02, 0x03];

/** Presentation fully-encoded-data with one PDV on context `ctx`. */
const pdv = (ctx: number, value: Buffer): Buffer =>
  ber(0x61, ber(0x30, int(0x02, ctx), ber(0xa0, value)));

/** ACSE user-information: one EXTERNAL on the MMS context (3) holding `mms`. */
const userInformation = (mms: Buffer): Buffer =>
  ber(0xbe, ber(0x28, ber(0x06, OID_BER), int(0x02, 3), ber(0xa0, mms)));

/** Session SPDU `si` with the connect/accept item, user requirements, and the PPDU as user data. */
function spdu(si: number, ppdu: Buffer): Buffer {
  const params = Buffer.concat([
    Buffer.from([0x05, 0x06, 0x13, 0x01, 0x00, 0x16, 0x01, 0x02]),
    Buffer.from([0x14, 0x02, 0x00, 0x02]),
    Buffer.from([0xc1, ppdu.length]),
    ppdu,
  ]);
  if (ppdu.length > 250) throw new Error('user data too long for the crafted SPDU');
  return Buffer.concat([Buffer.from([si, params.length]), params]);
}

const initiateDetail = ber(
  0xa4,
  int(0x80, 1),
  ber(0x81, [0x05, 0xf1, 0x00]),
  ber(0x82, [0x03, 0xee, 0x1c, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x01, 0x01, 0x18]),
);

export function connectRequest(): Buffer {
  const mms = ber(
    0xa8,
    int(0x80, 65000),
    int(0x81, 10),
    int(0x82, 10),
    int(0x83, 5),
    initiateDetail,
  );
  const aarq = ber(0x60, ber(0xa1, ber(0x06, OID_MMS_CONTEXT)), userInformation(mms));
  const cp = ber(
    0x31,
    ber(0xa0, int(0x80, 1)),
    ber(
      0xa2,
      ber(0x81, [0, 0, 0, 1]),
      ber(0x82, [0, 0, 0, 1]),
      ber(
        0xa4,
        ber(0x30, int(0x02, 1), ber(0x06, OID_ACSE), ber(0x30, ber(0x06, OID_BER))),
        ber(0x30, int(0x02, 3), ber(0x06, OID_MMS), ber(0x30, ber(0x06, OID_BER))),
      ),
      pdv(1, aarq),
    ),
  );
  return dt(spdu(0x0d, cp));
}

export function connectAccept(): Buffer {
  const mms = ber(
    0xa9,
    int(0x80, 32000),
    int(0x81, 10),
    int(0x82, 8),
    int(0x83, 5),
    initiateDetail,
  );
  const aare = ber(
    0x61,
    ber(0xa1, ber(0x06, OID_MMS_CONTEXT)),
    ber(0xa2, int(0x02, 0)),
    ber(0xa3, ber(0xa1, int(0x02, 0))),
    userInformation(mms),
  );
  const cpa = ber(
    0x31,
    ber(0xa0, int(0x80, 1)),
    ber(
      0xa2,
      ber(0x83, [0, 0, 0, 1]),
      ber(
        0xa5,
        ber(0x30, int(0x80, 0), ber(0x81, OID_BER)),
        ber(0x30, int(0x80, 0), ber(0x81, OID_BER)),
      ),
      pdv(1, aare),
    ),
  );
  return dt(spdu(0x0e, cpa));
}

/** An MMS PDU in a session DT (after Give Tokens) on presentation context 3. */
export const mmsDt = (mms: Buffer): Buffer =>
  dt(Buffer.concat([Buffer.from([0x01, 0x00, 0x01, 0x00]), pdv(3, mms)]));
const request = (id: number, service: Buffer): Buffer => ber(0xa0, int(0x02, id), service);
const response = (id: number, service: Buffer): Buffer => ber(0xa1, int(0x02, id), service);
const domainName = (domain: string, item: string): Buffer =>
  ber(0xa1, str(0x1a, domain), str(0x1a, item));
/** listOfVariable [0] with one named variable. */
const oneVariable = (domain: string, item: string): Buffer =>
  ber(0xa0, ber(0x30, ber(0xa0, domainName(domain, item))));
const RECORD = 'COMTRADE/FAULT_0001.CFG';

/** The exchanges, client → server then server → client, in order. */
export function mmsExchanges(): Array<[boolean, Buffer]> {
  return [
    [true, mmsDt(request(1, Buffer.from([0x82, 0x00])))], // identify
    [
      false,
      mmsDt(
        response(
          1,
          ber(0xa2, str(0x80, 'Weir Lab'), str(0x81, 'IED-670 bay controller'), str(0x82, '2.4.1')),
        ),
      ),
    ],
    // getNameList of domains (logical devices), then of the named variables of one.
    [true, mmsDt(request(2, ber(0xa1, ber(0xa0, int(0x80, 9)), ber(0xa1, ber(0x80, [])))))],
    [
      false,
      mmsDt(
        response(
          2,
          ber(0xa1, ber(0xa0, str(0x1a, 'IED1LD0'), str(0x1a, 'IED1PROT')), ber(0x81, [0])),
        ),
      ),
    ],
    [true, mmsDt(request(3, ber(0xa1, ber(0xa0, int(0x80, 0)), ber(0xa1, str(0x81, 'IED1LD0')))))],
    [
      false,
      mmsDt(
        response(
          3,
          ber(
            0xa1,
            ber(
              0xa0,
              str(0x1a, 'LLN0'),
              str(0x1a, 'MMXU1$MX$TotW$mag$f'),
              str(0x1a, 'CSWI1$CO$Pos$Oper'),
            ),
            ber(0x81, [0]),
          ),
        ),
      ),
    ],
    [true, mmsDt(request(4, ber(0xa6, ber(0xa0, domainName('IED1LD0', 'MMXU1$MX$TotW$mag$f')))))],
    [false, mmsDt(response(4, ber(0xa6, ber(0x80, [0]), ber(0xa2, ber(0x87, [0x20])))))],
    // read a float measurement
    [true, mmsDt(request(5, ber(0xa4, ber(0xa1, oneVariable('IED1LD0', 'MMXU1$MX$TotW$mag$f')))))],
    [false, mmsDt(response(5, ber(0xa4, ber(0xa1, ber(0x87, [0x08, 0x42, 0xc8, 0x00, 0x00])))))],
    // operate a breaker (control model direct-operate: write to CO$Pos$Oper)
    [
      true,
      mmsDt(
        request(
          6,
          ber(
            0xa5,
            oneVariable('IED1LD0', 'CSWI1$CO$Pos$Oper'),
            ber(0xa0, ber(0xa2, ber(0x83, [1]), ber(0x86, [7]))),
          ),
        ),
      ),
    ],
    [false, mmsDt(response(6, ber(0xa5, ber(0x81, []))))],
    // fetch a disturbance record: fileOpen, fileRead, fileClose, then delete it
    [true, mmsDt(request(7, ber([0xbf, 0x48], ber(0xa0, str(0x19, RECORD)), int(0x81, 0))))],
    [
      false,
      mmsDt(
        response(
          7,
          ber([0xbf, 0x48], int(0x80, 1), ber(0xa1, int(0x80, 256), str(0x81, '20261127110000Z'))),
        ),
      ),
    ],
    [true, mmsDt(request(8, int([0x9f, 0x49], 1)))],
    [false, mmsDt(response(8, ber([0xbf, 0x49], str(0x80, 'IED1,1999\r\n'), ber(0x81, [0]))))],
    [true, mmsDt(request(9, int([0x9f, 0x4a], 1)))],
    [false, mmsDt(response(9, ber([0x9f, 0x4a], [])))],
    [true, mmsDt(request(10, ber([0xbf, 0x4c], str(0x19, RECORD))))],
    [false, mmsDt(response(10, ber([0x9f, 0x4c], [])))],
    // a buffered report from the IED
    [
      false,
      mmsDt(
        ber(
          0xa3,
          ber(
            0xa0,
            ber(0xa1, str(0x80, 'RPT')),
            ber(
              0xa0,
              str(0x8a, 'IED1LD0/LLN0$BR$brcb01'),
              ber(0x84, [0x06, 0x40]),
              int(0x86, 42),
              ber(0x83, [1]),
            ),
          ),
        ),
      ),
    ],
    [true, mmsDt(Buffer.from([0x8b, 0x00]))], // conclude
    [false, mmsDt(Buffer.from([0x8c, 0x00]))],
  ];
}

/** The whole association as a pcap: TCP and COTP connect, MMS initiate, the exchanges, conclude. */
export function mmsSession(): Buffer {
  const f = new TcpFlow(gateway, ied);
  const frames = [
    ...f.handshake(),
    f.send(true, cotpConnect(0xe0)),
    f.send(false, cotpConnect(0xd0)),
    f.send(true, connectRequest()),
    f.send(false, connectAccept()),
  ];
  for (const [toServer, bytes] of mmsExchanges()) frames.push(f.send(toServer, bytes));
  return pcap(frames, 1_767_225_600, 0.05);
}

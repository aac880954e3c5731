/**
 * DNAT to the gateway is decided on a connection's first packet only. A connection opened while the gateway's
 * leases had lapsed (its fail-open window: crash, restart, upgrade) or before a policy change steered its
 * server stays tracked without NAT: in router mode it kept reaching the PLC unjudged for as long as the client
 * held it open. These rules end such connections as soon as the server·port is leased again.
 *
 * Router (inet): a forwarded packet to or from a live-leased server·port is, by that fact, not going through
 * the gateway (traffic to a gateway on this host is delivered locally after DNAT; one on another host is left
 * out by its address), so it is dropped and its sender gets a TCP reset: the client at its next request (which
 * never reaches the PLC) reconnects — through the gateway. The PLC must be told too: Modbus, S7 and EtherNet/IP
 * servers send nothing unasked, often with no keepalive, and allow few connections (4–16), so a half left open
 * holds a slot for hours and the gateway's own connects are refused (review 12b, B2). So the client's packet is
 * also sent on to the server as a reset (see `resetBoth`). The server's own rule stays for the server that
 * speaks first. While the leases are lapsed the rules match nothing: the gateway's fail-open is kept.
 */
export function staleDirectRules(
  table: string,
  gatewayIp: string,
  bridgeMark: number | null,
): unknown[] {
  const chain = 'steer_stale';
  const ip = (field: string): unknown => ({ payload: { protocol: 'ip', field } });
  const tcp = (field: string): unknown => ({ payload: { protocol: 'tcp', field } });
  // Written as the kernel lists them back, so an apply finds what it loaded.
  const notDnat = { match: { op: '!', left: { ct: { key: 'status' } }, right: 'dnat' } };
  const rule = (expr: unknown[], comment: string): unknown => ({
    add: { rule: { family: 'ip', table, chain, expr, comment } },
  });
  const reset = [{ counter: null }, { reject: { type: 'tcp reset' } }];
  // The PLC's reset leaves by the device the packet would: on a bridge the one it came in on (its IP hooks see
  // the bridge as the input device), on a router the one routing chose for it (review 13, M2).
  if (bridgeMark !== null)
    return bridgeStale(table, bridgeMark, rule, notDnat, resetBoth({ meta: { key: 'iif' } }));
  return [
    {
      add: {
        chain: {
          family: 'ip',
          table,
          name: chain,
          type: 'filter',
          hook: 'forward',
          prio: -10,
          policy: 'accept',
        },
      },
    },
    rule(
      [
        { match: { op: '!=', left: ip('saddr'), right: gatewayIp } },
        notDnat,
        { match: { op: '==', left: { concat: [ip('daddr'), tcp('dport')] }, right: '@gw_port' } },
        ...resetBoth({ meta: { key: 'oif' } }),
      ],
      'direct connection to a steered server: reset both ends, the client reconnects through the gateway',
    ),
    rule(
      [
        { match: { op: '!=', left: ip('daddr'), right: gatewayIp } },
        notDnat,
        { match: { op: '==', left: { concat: [ip('saddr'), tcp('sport')] }, right: '@gw_port' } },
        ...reset,
      ],
      "a steered server's side of a direct connection: reset, so it frees the connection",
    ),
  ];
}

/**
 * A stale client packet resets both ends. Its sequence number is exactly what the server expects next, so a copy
 * of it with RST set is a reset the server takes (RFC 5961: an exact match; one merely in the window draws a
 * challenge ACK, which the server-side rule answers with an exact reset). The copy is made with `dup` after its
 * flags are set to RST|ACK; the packet itself then gets back a plain ACK flag and is rejected, so the client gets
 * its reset (`reject` answers no RST, and takes its sequence from the ACK).
 *
 * Where the copy goes: `dup` routes it by the host's table to the server's address as next hop, and it leaves
 * untracked. So it is bound to `device` (only routes out of it count; with none, the server is taken to be on
 * its link) — the bridge it came in on, or the router's output interface for the packet — else a bridge host
 * whose route to the PLC is its management NIC's default route sent it there: the PLC's end stayed open and a
 * client's bytes went to the IT LAN. And it carries the addresses and ports the PLC knows the connection by
 * (conntrack's reply tuple), which differ where this router NATs towards the PLC: the copy is never NATed itself
 * (untracked), and the PLC ignores a reset for a connection it does not have. The packet's own addresses are put
 * back from the original tuple before the client's reset.
 *
 * What the copy carries: `dup` cannot cut a packet, so any data the stale packet held — the client's request,
 * which nothing has judged — reaches the PLC inside that RST. A conformant TCP stack (Linux's, in the labs)
 * discards a RST's data and never hands it to the application; a PLC's embedded stack is trusted to do the same.
 */
const tcpFlags = { payload: { protocol: 'tcp', field: 'flags' } };
const fromCt = (
  protocol: string,
  field: string,
  key: string,
  dir: 'original' | 'reply',
): unknown => ({
  mangle: { key: { payload: { protocol, field } }, value: { ct: { key, dir } } },
});
const resetBoth = (device: unknown): unknown[] => [
  { counter: null },
  { mangle: { key: tcpFlags, value: { '|': ['rst', 'ack'] } } },
  fromCt('ip', 'saddr', 'ip daddr', 'reply'),
  fromCt('tcp', 'sport', 'proto-dst', 'reply'),
  { dup: { addr: { payload: { protocol: 'ip', field: 'daddr' } }, dev: device } },
  fromCt('ip', 'saddr', 'ip saddr', 'original'),
  fromCt('tcp', 'sport', 'proto-src', 'original'),
  { mangle: { key: tcpFlags, value: 'ack' } },
  { reject: { type: 'tcp reset' } },
];

/**
 * Bridge: a frame of a stale direct connection is steered to this host like any other (marked), meets its
 * un-NATed conntrack entry and would be dropped by routing (no forwarding), so the client hung until TCP gave
 * up (minutes) instead of reconnecting. A marked packet that was not DNATed is such a one: reset both its ends
 * (`resetBoth`; the host reaches the PLC over the bridge, as its gateway does). Permitted flows are never marked.
 */
function bridgeStale(
  table: string,
  mark: number,
  rule: (expr: unknown[], comment: string) => unknown,
  notDnat: unknown,
  reset: unknown[],
): unknown[] {
  return [
    {
      add: {
        chain: {
          family: 'ip',
          table,
          name: 'steer_stale',
          type: 'filter',
          hook: 'prerouting',
          prio: -50,
          policy: 'accept',
        },
      },
    },
    rule(
      [
        { match: { op: '==', left: { meta: { key: 'mark' } }, right: mark } },
        { match: { op: '==', left: { meta: { key: 'l4proto' } }, right: 'tcp' } },
        notDnat,
        ...reset,
      ],
      'direct connection to a steered server: reset both ends, the client reconnects through the gateway',
    ),
  ];
}

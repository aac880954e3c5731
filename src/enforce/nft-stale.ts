/**
 * DNAT to the gateway is decided on a connection's first packet only. A connection opened while the gateway's
 * leases had lapsed (its fail-open window: crash, restart, upgrade) or before a policy change steered its
 * server stays tracked without NAT: in router mode it kept reaching the PLC unjudged for as long as the client
 * held it open. These rules end such connections as soon as the server·port is leased again.
 *
 * Router (inet): a forwarded packet to or from a live-leased server·port is, by that fact, not going through
 * the gateway (traffic to a gateway on this host is delivered locally after DNAT; one on another host is left
 * out by its address), so it is dropped and its sender gets a TCP reset: the client at its next request (which
 * never reaches the PLC) reconnects — through the gateway; the server at its next packet (a keepalive) frees
 * the connection. While the leases are lapsed the rules match nothing: the gateway's fail-open is kept.
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
  if (bridgeMark !== null) return bridgeStale(table, bridgeMark, rule, notDnat, reset);
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
        ...reset,
      ],
      'direct connection to a steered server: reset, the client reconnects through the gateway',
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
 * Bridge: a frame of a stale direct connection is steered to this host like any other (marked), meets its
 * un-NATed conntrack entry and would be dropped by routing (no forwarding), so the client hung until TCP gave
 * up (minutes) instead of reconnecting. A marked packet that was not DNATed is such a one: reset it. The
 * server's side is reset by the client's own stack when the server next sends. Permitted flows are never marked.
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
      'direct connection to a steered server: reset, the client reconnects through the gateway',
    ),
  ];
}

/**
 * Router mode (inet): DNAT to the gateway is decided on a connection's first packet only. A connection opened
 * while the gateway's leases had lapsed (its fail-open window: crash, restart, upgrade) or before a policy
 * change steered its server stays tracked without NAT and would keep reaching the PLC unjudged for as long as
 * the client holds it open. These rules end such connections as soon as the server·port is leased again:
 * a forwarded packet to or from a live-leased server·port is, by that fact, not going through the gateway, so
 * it is dropped and its sender gets a TCP reset: the client at its next request (which never reaches the PLC)
 * reconnects — through the gateway; the server at its next packet (a keepalive) frees the connection. While
 * the leases are lapsed the rules match nothing, so the gateway's own fail-open (direct while down) is kept.
 *
 * Forwarded packets only: traffic to a gateway on this host is delivered locally after DNAT, and a gateway on
 * another host is left out by its address (its own connections to the servers cross the router).
 */
export function staleDirectRules(table: string, gatewayIp: string): unknown[] {
  const chain = 'steer_stale';
  const ip = (field: string): unknown => ({ payload: { protocol: 'ip', field } });
  const tcp = (field: string): unknown => ({ payload: { protocol: 'tcp', field } });
  // Written as the kernel lists them back, so an apply finds what it loaded.
  const notDnat = { match: { op: '!', left: { ct: { key: 'status' } }, right: 'dnat' } };
  const rule = (expr: unknown[], comment: string): unknown => ({
    add: { rule: { family: 'ip', table, chain, expr, comment } },
  });
  const reset = [{ counter: null }, { reject: { type: 'tcp reset' } }];
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

/**
 * The settings file's shape (JSON Schema for ajv), with each setting's default and what it does. The
 * defaults, the example file (weir.example.yaml) and `weir settings show` all come from here, so a setting
 * is added in one place: a line here, a field in model.ts, and the option it feeds where the CLI or the
 * server builds that engine (engines take options; they never read this file).
 */
export interface LeafSchema {
  type: 'integer' | 'number';
  minimum: number;
  maximum?: number;
  default: number;
  description: string;
}

/** A text setting (an address, a DN template, a file path); '' means not set. Never a secret itself. */
export interface TextLeafSchema {
  type: 'string';
  maxLength: number;
  default: string;
  description: string;
}

/** An on/off setting. */
export interface FlagSchema {
  type: 'boolean';
  default: boolean;
  description: string;
}

export interface SectionSchema<
  P extends Record<string, LeafSchema | TextLeafSchema | FlagSchema | SectionSchema> = Record<
    string,
    LeafSchema | TextLeafSchema | FlagSchema | SectionSchema<any>
  >,
> {
  type: 'object';
  additionalProperties: false;
  description: string;
  properties: P;
}

const int = (def: number, description: string, minimum = 1, maximum?: number): LeafSchema => ({
  type: 'integer',
  minimum,
  ...(maximum !== undefined ? { maximum } : {}),
  default: def,
  description,
});
const num = (def: number, description: string, minimum = 0): LeafSchema => ({
  type: 'number',
  minimum,
  default: def,
  description,
});
const text = (def: string, description: string): TextLeafSchema => ({
  type: 'string',
  maxLength: 1024,
  default: def,
  description,
});
const flag = (def: boolean, description: string): FlagSchema => ({
  type: 'boolean',
  default: def,
  description,
});
const section = <
  P extends Record<string, LeafSchema | TextLeafSchema | FlagSchema | SectionSchema>,
>(
  description: string,
  properties: P,
): SectionSchema<P> => ({ type: 'object', additionalProperties: false, description, properties });

export const SETTINGS_VERSION = 'settings/1';

export const SETTINGS_SECTIONS = {
  detect: section('Detection (weir detect, weir serve).', {
    fold_window_s: int(
      600,
      'Repeats of the same finding on the same pair within this many seconds fold into one detection.',
    ),
    scan: section('Port scans, host sweeps and ARP sweeps (only probes off the baseline count).', {
      window_s: int(60, 'Seconds over which the probes of one source are counted.'),
      ports_per_host: int(10, 'Distinct ports probed on one host that make a port scan.', 2),
      hosts_per_port: int(
        8,
        'Distinct hosts probed on one port (or by ICMP echo) that make a sweep.',
        2,
      ),
      arp_targets: int(
        16,
        'Distinct addresses one MAC asks for by ARP within the window that make a sweep.',
        2,
      ),
    }),
    timing: section(
      'Polling stopped and request floods, against the learned polling of each edge.',
      {
        silent_periods: num(
          10,
          'A polled edge is stopped after this many polling periods without a request…',
          1,
        ),
        min_silence_s: num(5, '…and at least this many seconds…', 0),
        gap_factor: num(2, '…and this many times the longest pause it took while learning.', 1),
        flood_factor: num(
          10,
          'Requests per second above this many times the learned rate are a flood…',
          1,
        ),
        flood_floor_rps: num(50, '…when also above this many requests per second.', 1),
        unprofiled_flood_rps: num(
          200,
          'Requests per second on an edge the baseline lacks that are a flood.',
          1,
        ),
        min_poll_period_s: num(
          0.05,
          'Shorter learned periods are bursts (a script in a loop), not polling.',
          0,
        ),
        min_poll_requests: int(
          20,
          'Requests an edge must have made while learning to count as polled.',
        ),
      },
    ),
  }),
  inventory: section('Bounds of the inventory, so hostile input cannot take the memory.', {
    max_assets: int(
      100_000,
      'Assets tracked at most; beyond, new senders are counted as not tracked.',
    ),
    max_edges: int(500_000, 'Edges tracked at most; beyond, new edges are counted as not tracked.'),
  }),
  dissect: section('Bounds of TCP reassembly.', {
    max_tcp_streams: int(
      65_536,
      'TCP half-streams tracked at most (a scan or spoofed flood must not grow memory).',
      16,
    ),
    idle_stream_s: int(
      30,
      'When the stream table is full, half-streams silent this many seconds are forgotten first.',
    ),
    max_reassembly_bytes: int(
      16 * 1024 * 1024,
      'Bytes all half-streams together may hold for incomplete PDUs.',
      65_536,
    ),
    workers: int(
      1,
      'Worker threads weir discover and weir detect spread a capture over (by address pair; results are the same as on one thread); 1 keeps it all on one thread.',
      1,
      64,
    ),
  }),
  ingest: section('Following live traffic (weir serve, weir detect --interface or on stdin).', {
    flush_ms: int(
      1000,
      'How often (ms) what was followed is handed on: serve writes the store and updates the dashboards; stages with a flush (exporters) are flushed.',
      100,
    ),
  }),
  capture: section('Live capture (weir serve, weir detect and weir node with --interface).', {
    user: text(
      'weir-capture',
      'The user the capture program (weir-capture, or tcpdump) becomes once the interface is open, when Weir runs as root: a system account of its own (the Debian package and scripts/install-deps.sh create it; elsewhere: adduser --system --group --no-create-home --home /nonexistent --shell /usr/sbin/nologin weir-capture). Never root, and better not the shared nobody, whose other processes could stop or freeze the capture. A Weir that is not root (the Debian package runs it as weir with CAP_NET_RAW) keeps its own user, and weir-capture drops every capability.',
    ),
  }),
  gateway: section('The inline protocol gateway (weir gateway).', {
    rate: int(
      2000,
      'Requests per second one client may send through the gateway, sustained (burst: twice this).',
    ),
    refusal_cost: int(
      50,
      'A refused request costs this many allowed ones: a client that keeps being refused slows down fast.',
      1,
    ),
    request_us: int(
      50,
      'Inspection time (µs) one request includes; a PDU that takes longer to judge costs one more request per request_us, so one client may use at most rate × request_us of inspection per second (default 10% of a core).',
      1,
    ),
    budget_us: int(
      2000,
      'Inspection time per PDU (µs) beyond which a slow_inspection event is logged (the verdict holds).',
    ),
    lease_ms: int(
      800,
      'How long one heartbeat keeps the kernel steering to the gateway: the fail-open bound after a crash.',
      100,
    ),
    heartbeat_ms: int(
      200,
      'How often the heartbeat renews the lease (several times per lease).',
      20,
    ),
    log_max_mb: int(64, 'Rotate the gateway event log beyond this size (MiB).'),
    log_lines_per_s: int(
      20,
      'Log lines per second per event kind and client; beyond, lines are counted instead of written.',
    ),
    fail_open_quiet_s: num(
      1,
      'A fail-open window (PDUs passed unchecked after a fault of the gateway) is closed and logged after this many quiet seconds.',
      0.1,
    ),
    idle_s: int(
      900,
      'A connection through the gateway that carries no request for this many seconds is closed (SCADA polls every few seconds).',
    ),
    per_client_connections: int(
      128,
      'Connections at once one client address may hold through the gateway, all servers together; more are refused for that client only (a SCADA server holds one or two per PLC it polls: raise this for one that polls more than about 60 PLCs).',
    ),
    max_connections: int(
      10000,
      'Connections at once through the gateway, all clients together, and never more than its descriptor limit leaves room for (the unit sets LimitNOFILE=65536). When full, a client holding fewer connections takes the place of the longest-idle one of the client holding the most; otherwise it is refused (gateway_full). The gateway keeps running and inspecting either way.',
      1,
    ),
  }),
  enforce: section('Enforcement on this host (weir enforce apply).', {
    stealth: flag(
      false,
      'Sensor-only stealth: the bridge carries no address and the host sends nothing on it (no ARP, ICMP or RST of its own); apply refuses a bridge with an address, the inet family and steering to the gateway.',
    ),
    gateway_ip: text(
      '',
      "This site's inline gateway (the address weir gateway listens on): policies from the fleet manager steer groups with function, address or read-only limits to it. Empty: no gateway here, so those groups are enforced port-level only, and each apply says so to the manager.",
    ),
    bridge: text(
      'br0',
      'The bridge the gateway listens on (the bridge family steers frames to its MAC).',
    ),
    loose_reverse_path: flag(
      false,
      "Router family: a source passes the spoofing check when this host has any route back to it (loose), not only one through the interface it came in on (strict). For plants with asymmetric routing (VRRP pairs, a second uplink), where strict drops real traffic; loose still refuses unroutable sources, not a plant address spoofed from the wrong side. Read here only by a fleet site (weir node); weir enforce apply takes the store's rule (weir policy rules --loose-reverse-path, admin, audited) and refuses a file that asks for loose where the store says strict.",
    ),
    simulation_coverage_pct: int(
      80,
      "A simulation is evidence for enforcing a zone only when its replay carries at least this share (%) of the zone's baseline flows, by count and by their learned requests (a few packets spread over the window show nothing of what enforcing cuts in the flows they leave out). No longer read: the share is the store's rule (weir policy rules --simulation-coverage-pct, admin, audited); a file naming another value is told so.",
      1,
      100,
    ),
    max_permit_s: int(
      4 * 3600,
      "A direct permit (weir permit) lasts at most this many seconds: it lets one flow around the context groups and the gateway on one person's word. At most 12 h, as every permit; longer access is a context group to approve.",
      60,
      12 * 3600,
    ),
  }),
  server: section('The HTTP API and dashboard (weir serve).', {
    session_s: int(8 * 3600, 'A dashboard session lasts this many seconds after login.', 60),
    trusted_proxy: text(
      '',
      'The reverse proxy in front of weir serve (addresses or CIDR ranges, comma-separated; --trusted-proxy overrides): only from these peers is X-Forwarded-For believed as the client address the login throttle, the audit log and the access portal use. Empty: the connecting address is the client, and with --secure-cookies but no --tls the portal is off (it would permit the proxy).',
    ),
    login: section('Failed logins allowed before passwords are no longer checked.', {
      per_address_max: int(10, 'Failed logins from one address within the address window.'),
      per_address_s: int(60, 'The address window (seconds).'),
      per_account_max: int(20, 'Failed logins at one account within the account window.'),
      per_account_s: int(900, 'The account window (seconds).'),
    }),
    connections: section('Timeouts and connection caps.', {
      headers_s: int(10, 'From connecting to the end of the request headers.'),
      request_s: int(30, 'For a whole request, body included.'),
      keep_alive_s: int(5, 'An idle kept-alive connection between requests.'),
      idle_s: int(60, 'Socket inactivity while a request is under way.'),
      max_connections: int(4096, 'Connections at once, all clients together.'),
      per_address: int(64, 'Connections at once from one address (a browser opens about six).'),
      heartbeat_s: int(30, 'Live WebSocket pings; a peer that misses one is dropped at the next.'),
    }),
  }),
  iam: section(
    'Directories that vouch for a person asking for a temporary permit (weir permit-request, the access portal).',
    {
      ldap: section('LDAP or Active Directory: bind as the person, then read their groups.', {
        url: text('', "Directory URL, e.g. ldaps://dc1.plant.local:636 ('' turns LDAP off)."),
        bind_dn: text(
          '',
          "The person's bind name, {user} standing for the name they give: uid={user},ou=people,dc=plant,dc=local or {user}@plant.local.",
        ),
        base_dn: text('', 'Where people and groups are looked up, e.g. dc=plant,dc=local.'),
        user_filter: text(
          '(|(uid={user})(sAMAccountName={user}))',
          "With a bind_dn that is no DN ({user}@domain): finds the person's entry under base_dn (for its memberOf); more than one entry, or one that is not the account that bound, is refused. A DN bind_dn's own entry is read instead.",
        ),
        group_filter: text(
          '(|(member={dn})(uniqueMember={dn}))',
          'Finds the groups that list the person ({dn}) when the directory keeps no memberOf.',
        ),
        ca_file: text('', 'CA certificate (PEM) that ldaps:// servers must chain to.'),
        timeout_ms: int(
          5000,
          'A directory that has not answered within this many ms refuses.',
          100,
        ),
      }),
      radius: section('RADIUS: PAP Access-Request; groups from Class or Filter-Id of the Accept.', {
        host: text('', "RADIUS server address ('' turns RADIUS off)."),
        port: int(1812, 'RADIUS authentication port.', 1, 65535),
        secret_file: text(
          '',
          'File holding the shared secret (one line; read at use, never logged).',
        ),
        timeout_ms: int(3000, 'Wait this long for each answer…', 100),
        retries: int(2, '…and ask again this many times.', 0, 10),
      }),
      portal: section(
        'The access portal page (/portal) that takes the permit requests of people.',
        {
          per_address_max: int(5, 'Permit requests from one address within the window.'),
          per_address_s: int(60, 'The window (seconds).'),
          per_account_free: int(
            5,
            'Wrong passwords in a row for one account (from any address) before its checks wait.',
          ),
          per_account_delay_s: int(
            30,
            'The wait after the next wrong password (seconds); it doubles with each further one.',
          ),
          per_account_delay_max_s: int(
            900,
            "The longest wait (seconds). An address that won a permit for the account, and an operator's POST /api/permits, never wait.",
          ),
        },
      ),
    },
  ),
  fleet: section("Fleet sites (weir node) and the manager's sites page.", {
    node_dir: text(
      '',
      "This host is a fleet site: the folder of its `weir node` (--dir). Blocks made here (dashboard, playbooks, CLI) then go fleet-wide through that node ('' : not a site; the WEIR_FLEET_NODE variable wins).",
    ),
    health_every_s: int(10, 'A site sends the manager a health record this often (seconds).'),
    stale_after_s: int(
      60,
      'A site the manager has not heard from for this many seconds is stale (a few missed health records)…',
    ),
    cut_off_after_s: int(300, '…and cut off after this many (never less than stale_after_s).'),
    ingest_per_site_per_s: int(
      1000,
      "Records per second the manager takes from one site at most (a burst of ingest_burst_per_site first): a site sending faster waits in the manager's stream, counted as held on the sites page, and catches up when it slows; other sites are not held up.",
    ),
    ingest_burst_per_site: int(
      10_000,
      'Records a quiet site may send at once before its rate counts.',
    ),
    held_per_site_kind: int(
      1_000_000,
      "Records of one kind one site may have waiting in the manager's stream. At the bound the hub refuses that site's further records of that kind: they stay in the site's outbox (its backlog on the sites page) and the site shows as at the bound; nothing is dropped.",
      100,
    ),
    ledger_prune_every_s: int(
      60,
      "How often the manager removes from its stream and its record ledger what can never be delivered again (at or below each site's acknowledged floor).",
    ),
  }),
  cli: section('The weir command.', {
    session_s: int(4 * 3600, 'A `weir login` session lasts this many seconds.', 60),
  }),
};

export const SETTINGS_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['weir'],
  properties: {
    weir: { const: SETTINGS_VERSION },
    ...SETTINGS_SECTIONS,
  },
} as const;

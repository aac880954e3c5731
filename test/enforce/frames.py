# Raw frames for the ruleset lab (test/enforce/ruleset-holes-lab.test.ts), stdlib only.
#   frames.py send IFACE DSTMAC SRCIP DSTIP SPORT DPORT TAGS TEXT   one IPv4/UDP frame; TAGS: none | 0 | 0,0 | s0,0
#                                                                  (a leading "s" makes that tag 802.1ad)
#   frames.py syn IFACE DSTMAC SRCIP DSTIP SPORT DPORT             one IPv4 TCP SYN (any source address)
#   frames.py icmp IFACE DSTMAC SRCIP DSTIP TEXT                  one ICMP port unreachable quoting DSTIP:502 -> SRCIP
#   frames.py l2 IFACE DSTMAC ETHERTYPE TAGS TEXT                  one layer-2 frame (PROFINET, GOOSE) with TEXT
#   frames.py hex IFACE DSTMAC ETHERTYPE TAGS HEX                  one layer-2 frame with HEX as payload (DCP, GOOSE)
#   frames.py listen PORT SECS [6]                                 print "GOT addr port text" per UDP datagram
#   frames.py sniff IFACE SECS TEXT                                print "GOT" when a frame carrying TEXT arrives (not sent)
#   frames.py serve tcp|udp PORT SECS                              TCP: accept, send "hi"; UDP: answer "hi" (dual-stack)
#   frames.py ask tcp|udp HOST PORT SPORT                          connect/send from SPORT (0: any), print "ANSWER text"
import socket, struct, sys, time

def tags(spec):
    out = b''
    if spec == 'none':
        return out
    for v in spec.split(','):
        tpid = 0x88a8 if v.startswith('s') else 0x8100
        out += struct.pack('!HH', tpid, (6 << 13) | int(v.lstrip('s')))
    return out

def csum(b):
    if len(b) % 2:
        b += b'\0'
    t = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    t = (t >> 16) + (t & 0xffff)
    t += t >> 16
    return (~t) & 0xffff

def raw(ifc):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((ifc, 0))
    return s, s.getsockname()[4]

cmd = sys.argv[1]
if cmd == 'send':
    ifc, dmac, sip, dip, sport, dport, spec, text = sys.argv[2:10]
    s, smac = raw(ifc)
    data = text.encode()
    udp = struct.pack('!HHHH', int(sport), int(dport), 8 + len(data), 0) + data
    hdr = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0,
                      socket.inet_aton(sip), socket.inet_aton(dip))
    hdr = hdr[:10] + struct.pack('!H', csum(hdr)) + hdr[12:]
    s.send(bytes.fromhex(dmac.replace(':', '')) + smac + tags(spec) + struct.pack('!H', 0x0800) + hdr + udp)
elif cmd == 'syn':
    ifc, dmac, sip, dip, sport, dport = sys.argv[2:8]
    s, smac = raw(ifc)
    src, dst = socket.inet_aton(sip), socket.inet_aton(dip)
    tcp = struct.pack('!HHIIBBHHH', int(sport), int(dport), 0x1000, 0, 5 << 4, 0x02, 64240, 0, 0)
    tcp = tcp[:16] + struct.pack('!H', csum(src + dst + struct.pack('!BBH', 0, 6, len(tcp)) + tcp)) + tcp[18:]
    hdr = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(tcp), 1, 0, 64, 6, 0, src, dst)
    hdr = hdr[:10] + struct.pack('!H', csum(hdr)) + hdr[12:]
    s.send(bytes.fromhex(dmac.replace(':', '')) + smac + struct.pack('!H', 0x0800) + hdr + tcp)
elif cmd == 'icmp':
    ifc, dmac, sip, dip, text = sys.argv[2:7]
    s, smac = raw(ifc)
    src, dst = socket.inet_aton(sip), socket.inet_aton(dip)
    inner = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 48, 2, 0, 64, 6, 0, dst, src)
    inner = inner[:10] + struct.pack('!H', csum(inner)) + inner[12:] + struct.pack('!HHI', 502, 40000, 1)
    icmp = struct.pack('!BBHI', 3, 3, 0, 0) + inner + text.encode()
    icmp = icmp[:2] + struct.pack('!H', csum(icmp)) + icmp[4:]
    hdr = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(icmp), 1, 0, 64, 1, 0, src, dst)
    hdr = hdr[:10] + struct.pack('!H', csum(hdr)) + hdr[12:]
    s.send(bytes.fromhex(dmac.replace(':', '')) + smac + struct.pack('!H', 0x0800) + hdr + icmp)
elif cmd == 'l2':
    ifc, dmac, etype, spec, text = sys.argv[2:7]
    s, smac = raw(ifc)
    body = text.encode().ljust(46, b'\0')
    s.send(bytes.fromhex(dmac.replace(':', '')) + smac + tags(spec) + struct.pack('!H', int(etype, 16)) + body)
elif cmd == 'hex':
    ifc, dmac, etype, spec, data = sys.argv[2:7]
    s, smac = raw(ifc)
    body = bytes.fromhex(data).ljust(46, b'\0')
    s.send(bytes.fromhex(dmac.replace(':', '')) + smac + tags(spec) + struct.pack('!H', int(etype, 16)) + body)
elif cmd == 'listen':
    port, secs = int(sys.argv[2]), float(sys.argv[3])
    v6 = len(sys.argv) > 4
    s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
    if v6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(('::' if v6 else '0.0.0.0', port))
    s.settimeout(0.2)
    print('READY', flush=True)
    end = time.time() + secs
    while time.time() < end:
        try:
            d, a = s.recvfrom(2000)
            print('GOT', a[0], a[1], d.decode(errors='replace'), flush=True)
        except socket.timeout:
            pass
elif cmd == 'sniff':
    ifc, secs, text = sys.argv[2], float(sys.argv[3]), sys.argv[4].encode()
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    s.bind((ifc, 0))
    s.settimeout(0.2)
    print('READY', flush=True)
    end = time.time() + secs
    while time.time() < end:
        try:
            d, a = s.recvfrom(2000)
            if a[2] != socket.PACKET_OUTGOING and text in d:
                print('GOT', flush=True)
        except socket.timeout:
            pass
elif cmd == 'serve':
    proto, port, secs = sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM if proto == 'tcp' else socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(('::', port))
    if proto == 'tcp':
        s.listen()
    s.settimeout(0.2)
    print('READY', flush=True)
    end = time.time() + secs
    while time.time() < end:
        try:
            if proto == 'tcp':
                c, a = s.accept()
                c.send(b'hi')
                c.close()
            else:
                d, a = s.recvfrom(2000)
                s.sendto(b'hi', a)
            print('GOT', a[0], a[1], flush=True)
        except socket.timeout:
            pass
elif cmd == 'ask':
    proto, host, port, sport = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    fam = socket.AF_INET6 if ':' in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM if proto == 'tcp' else socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if sport:
        s.bind(('::' if fam == socket.AF_INET6 else '0.0.0.0', sport))
    s.settimeout(2)
    addr = socket.getaddrinfo(host, port, fam)[0][4]
    try:
        if proto == 'tcp':
            s.connect(addr)
            print('ANSWER', s.recv(10).decode(), flush=True)
        else:
            s.sendto(b'ask', addr)
            print('ANSWER', s.recvfrom(100)[0].decode(), flush=True)
    except OSError as e:
        print('NONE', e, flush=True)

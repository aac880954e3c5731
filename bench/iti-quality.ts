// Detection quality on the ITI/OpenICS captures: engineering operations and attack attempts nobody here wrote.
import path from 'node:path';
import { existsSync, readdirSync } from 'node:fs';
import { learnThenDetect, type SplitResult } from './detect.js';
import { machine, sharedPcaps, today, writeSection } from './results.js';

/** What each capture holds, judged from its bytes (tshark and Weir) and its name. */
export const CONTAINS: Record<string, string> = {
  'IEC61850__GOOSE__GOOSE.pcap': 'GOOSE multicast from one GE IED, a state change at 27.8 s',
  'IEC61850__Sample_File_MMS_and_GOOSE.pcap':
    'an MMS client (172.16.0.101) reading IEDs on tcp/102, SNMP, NTP, NetBIOS, GOOSE',
  'IEC61850__piccolo.pcap': 'one MMS association: initiate and two confirmed requests',
  'MELSEC__melsoft_UDP_clean_2.pcap': 'MELSOFT discovery broadcasts on udp/5560',
  'beckoff__addroute1.pcapng':
    'Beckhoff ADS: an AddRoute on udp/48899, then ADS Read State on tcp/48898',
  'fox__fox_info.pcap': 'a Niagara Fox hello on tcp/1911 to an internet address (an info probe)',
  'omron__omron_test.pcap': 'Omron FINS/TCP node address exchange, Controller Data Read, FINS/UDP',
  'openics__DNP3-Malformed.pcap':
    '189 fuzzed OPERATEs (CROB headers announcing more objects than sent, reversed ranges), never answered',
  'openics__DNP3-Read.pcap': 'one class 1 READ',
  'openics__DNP3-ReadRequest.pcap': 'link-layer REQUEST_LINK_STATUS only, no application data',
  'openics__DNP3-RequestLink.pcap': 'link-layer REQUEST_LINK_STATUS only',
  'openics__DNP3-RequestLinkStatus.pcap': 'link-layer REQUEST_LINK_STATUS only',
  'openics__DNP3-SelectOperate.pcap': 'SELECT then OPERATE of one CROB',
  'openics__DNP3-SelectOperateRequest.pcap': 'link-layer REQUEST_LINK_STATUS only',
  'openics__DNP3-TestDataPart1.pcap':
    'two masters: time set (g50v1), unsolicited off/on, cold and warm restart, stop application, some refused',
  'openics__DNP3-TestDataPart2.pcap': 'READs and 5 SELECTs the outstation rejects (IIN2 errors)',
  'openics__DNP3-Write.pcap': 'one WRITE of g50v1 (sets the clock)',
  'openics__DNP3-WriteRequest.pcap': 'link-layer REQUEST_LINK_STATUS only',
  'openics__EIP-ChangeDateAttempt.pcap':
    'Studio 5000 session; Set_Attribute_List on the wall clock 0x8B (frame 138)',
  'openics__EIP-ChangePortConfigurationAttempt.pcap':
    'Set_Attribute_Single Ethernet Link attr 6 (speed/duplex) on 192.168.10.121 (frame 2398); HTTPS traffic',
  'openics__EIP-ChangeTimeAttempt.pcap':
    'Studio 5000 session; Set_Attribute_List on the wall clock 0x8B (frame 386)',
  'openics__EIP-ControlProtocolChangeAttempt.pcap':
    'a full project download: upload/compare, lock, Stop (0x8E), memory reset, objects created, clock set, Start',
  'openics__EIP-FirmwareChange.pcap':
    'ControlFLASH: NVS 0xA1 update start and 5,243 blocks, Identity Reset, BOOTP after reboot',
  'openics__EIP-FirmwareChangeFailure.pcap':
    'the same flash; the last blocks refused (status 0x01), no reset',
  'openics__EIP-IPAddressChangeAttempt.pcap':
    'BOOTP/DHCP server on the workstation hands 192.168.10.120 to the Rockwell module (frame 3359) and .131 to a Koyo PLC',
  'openics__EIP-LockPLCAttempt.pcap': 'three lock/unlock pairs (class 0x74 services 0x4B/0x4C)',
  'openics__EIP-RebootorRestart.pcap':
    'a project download with Stop, memory reset and Start (the "restart" is PROGRAM\u2192RUN)',
  'openics__EIP-RemoteModeChangeAttempt.pcap':
    'lock, Stop on the controller object 0x8E (to PROGRAM), unlock',
  'openics__EIP-SoftwareDownloadFailure.pcap':
    'no CIP: the controller 192.168.10.120 never answers ARP',
  'openics__EIP-SoftwareUpload.pcap':
    'object enumeration, then code reads (class 0x6A service 0x4F)',
  'openics__EIP-SoftwareUploadFailure.pcap': 'no CIP: the controller never answers ARP',
  'openics__EIP-ViewDeviceStatus.pcap':
    'no CIP: a DNP3 READ answered with an IIN error and a tcp/5450 exchange',
  'profinet__PROFINET-RT-DCP__ChangeIPUsingDCP.pcap':
    'DCP Identify, then DCP Set IP 192.168.0.10 (frame 3), accepted',
  'profinet__PROFINET-RT-DCP__PROFINET-RT.pcap': 'DCP Identify requests from switches',
  'profinet__Profinet_Failed.pcap':
    'LLDP/ARP, an aborted ISO-on-TCP connection to an S7 (two COTP CRs, no S7 setup)',
  'profinet__profinet-wireshark-bug.pcap':
    'DCP Set NameOfStation "%n%n%n " (a format-string attack on parsers), accepted',
  'profinet__profinet.pcap': 'PNIO-CM implicit read of I&M0 data',
};

/**
 * The judgement of what Weir reports on the whole capture (nothing learned first: the capture is the
 * operation). 'miss' marks an operation on the wire that Weir does not name; keep it honest when detections change.
 */
export const JUDGED_WHOLE: Record<string, string> = {
  'IEC61850__GOOSE__GOOSE.pcap': 'no attack; GOOSE is not dissected, nothing reported',
  'IEC61850__Sample_File_MMS_and_GOOSE.pcap':
    'inventory only (nothing learned); no attack. Weak: MMS on tcp/102 is labelled s7comm by port',
  'IEC61850__piccolo.pcap': 'inventory only; no attack (edge labelled s7comm by port)',
  'MELSEC__melsoft_UDP_clean_2.pcap': 'inventory only; no attack (MELSOFT not dissected)',
  'beckoff__addroute1.pcapng':
    'TP: config_change for the ADS AddRoute (route, user and a clear-text password) at frames 10 and 59; the ADS session itself is not dissected',
  'fox__fox_info.pcap': 'TP: the new conversation; Fox not dissected',
  'omron__omron_test.pcap':
    'inventory only; FINS not dissected (the Controller Data Read is a probe, not named)',
  'openics__DNP3-Malformed.pcap':
    'TP all: truncated objects and reversed ranges (malformed_pdu), unanswered request flood, operates without select, writes',
  'openics__DNP3-Read.pcap': 'inventory only; no attack',
  'openics__DNP3-ReadRequest.pcap': 'inventory only; no application request on the wire',
  'openics__DNP3-RequestLink.pcap': 'inventory only; no application request on the wire',
  'openics__DNP3-RequestLinkStatus.pcap': 'inventory only; no application request on the wire',
  'openics__DNP3-SelectOperate.pcap': 'TP: select and operate on a pair nothing was learned for',
  'openics__DNP3-SelectOperateRequest.pcap': 'inventory only; no application request on the wire',
  'openics__DNP3-TestDataPart1.pcap':
    'TP all: each operation its own type, refusals as failed attempts; no miss',
  'openics__DNP3-TestDataPart2.pcap':
    'TP: selects on an unlearned pair (all refused by the outstation)',
  'openics__DNP3-Write.pcap': 'TP: time_change',
  'openics__DNP3-WriteRequest.pcap': 'inventory only; no application request on the wire',
  'openics__EIP-ChangeDateAttempt.pcap': 'TP: time_change at frame 138; no miss',
  'openics__EIP-ChangePortConfigurationAttempt.pcap':
    'TP: network_config_change at frame 2398; no miss',
  'openics__EIP-ChangeTimeAttempt.pcap': 'TP: time_change at frame 386; no miss',
  'openics__EIP-ControlProtocolChangeAttempt.pcap':
    'TP: upload, lock/unlock, stop, download (one detection listing its objects), clock set, start; 2 write_new_range on 0xAC/0x8E session attributes and 2 flood (download bursts) are true but noisy; no miss',
  'openics__EIP-FirmwareChange.pcap':
    'TP: firmware_change, device_restart, the BOOTP re-address after reboot; flood on the flash bursts (true); no miss',
  'openics__EIP-FirmwareChangeFailure.pcap':
    'TP: firmware_change and its failed attempt (frame 10556, status 0x01); no miss',
  'openics__EIP-IPAddressChangeAttempt.pcap':
    'TP: network_config_change for both BOOTP/DHCP assignments; no miss',
  'openics__EIP-LockPLCAttempt.pcap': 'TP: controller_lock (3) and unlock (3); no miss',
  'openics__EIP-RebootorRestart.pcap':
    'TP: stop, download, clock set, start, upload/verify, lock/unlock; write_new_range/flood true but noisy; no miss',
  'openics__EIP-RemoteModeChangeAttempt.pcap': 'TP: lock, cpu_stop (PROGRAM), unlock; no miss',
  'openics__EIP-SoftwareDownloadFailure.pcap':
    'nothing on the wire to detect (the attempt never left the workstation); an unanswered ARP for a controller is not reported',
  'openics__EIP-SoftwareUpload.pcap': 'TP: program_upload at frame 441; no miss',
  'openics__EIP-SoftwareUploadFailure.pcap': 'nothing on the wire to detect (see above)',
  'openics__EIP-ViewDeviceStatus.pcap': 'inventory only; a status read is no attack',
  'profinet__PROFINET-RT-DCP__ChangeIPUsingDCP.pcap':
    'TP: network_config_change (DCP Set IP) at frame 3; no miss',
  'profinet__PROFINET-RT-DCP__PROFINET-RT.pcap':
    'no detections: identify requests are discovery, correct',
  'profinet__Profinet_Failed.pcap': 'inventory only; the aborted connection carries no operation',
  'profinet__profinet-wireshark-bug.pcap':
    'TP: network_config_change (DCP Set NameOfStation) at frame 3',
  'profinet__profinet.pcap': 'inventory only; an I&M read is no attack',
};
/** The judgement of the learn-half/detect-half run. */
export const JUDGED_SPLIT: Record<string, string> = {
  'openics__DNP3-Malformed.pcap':
    'TP all (the truncation kind was seen while learning, so only the other malformed kinds are raised)',
  'openics__DNP3-Read.pcap': 'FP 1: the only READ falls in the detect half',
  'openics__DNP3-SelectOperate.pcap':
    'FP 1: OPERATE unseen while learning (its SELECT was learned)',
  'openics__DNP3-TestDataPart1.pcap':
    'TP all operations of the second half, each lowered one step where learned, never hidden; FP 1 READ of a class not learned',
  'openics__DNP3-Write.pcap': 'TP',
  'openics__EIP-ChangeDateAttempt.pcap':
    'the operation (frame 138) is in the learning half: nothing in the detect half, correct',
  'openics__EIP-ChangePortConfigurationAttempt.pcap': 'TP',
  'openics__EIP-ChangeTimeAttempt.pcap': 'TP',
  'openics__EIP-ControlProtocolChangeAttempt.pcap':
    'TP: the post-download upload/verify and download step, lowered because learned, still reported',
  'openics__EIP-FirmwareChange.pcap':
    'flash and reset are in the learning half; FP 5: the reconnect after reboot uses encapsulation commands and reads not learned',
  'openics__EIP-FirmwareChangeFailure.pcap':
    'TP: the rest of the flash (learned, so high) and the failed attempt',
  'openics__EIP-IPAddressChangeAttempt.pcap':
    'TP: both assignments (the baseline knew the addresses were different, so high)',
  'openics__EIP-LockPLCAttempt.pcap':
    'TP: later lock/unlock pairs, lowered because learned, not hidden',
  'openics__EIP-RebootorRestart.pcap': 'TP: lock, start, unlock, upload/verify',
  'openics__EIP-RemoteModeChangeAttempt.pcap':
    'TP: lock, stop, unlock; function_outside_profile for the vendor 0x4B on 0xAC (part of the mode change)',
  'openics__EIP-SoftwareUpload.pcap':
    'TP: program_upload; function_outside_profile for the object enumeration (0x4B) that precedes it',
  'profinet__PROFINET-RT-DCP__ChangeIPUsingDCP.pcap': 'TP',
  'profinet__profinet-wireshark-bug.pcap': 'TP',
};

/** Attack or engineering-operation captures: a miss on any of these fails the quality test. */
export const ATTACKS = new Set<string>([
  'beckoff__addroute1.pcapng',
  'openics__DNP3-Malformed.pcap',
  'openics__DNP3-SelectOperate.pcap',
  'openics__DNP3-TestDataPart1.pcap',
  'openics__DNP3-TestDataPart2.pcap',
  'openics__DNP3-Write.pcap',
  'openics__EIP-ChangeDateAttempt.pcap',
  'openics__EIP-ChangePortConfigurationAttempt.pcap',
  'openics__EIP-ChangeTimeAttempt.pcap',
  'openics__EIP-ControlProtocolChangeAttempt.pcap',
  'openics__EIP-FirmwareChange.pcap',
  'openics__EIP-FirmwareChangeFailure.pcap',
  'openics__EIP-IPAddressChangeAttempt.pcap',
  'openics__EIP-LockPLCAttempt.pcap',
  'openics__EIP-RebootorRestart.pcap',
  'openics__EIP-RemoteModeChangeAttempt.pcap',
  'openics__EIP-SoftwareUpload.pcap',
  'profinet__PROFINET-RT-DCP__ChangeIPUsingDCP.pcap',
  'profinet__profinet-wireshark-bug.pcap',
]);

export function itiCaptures(): string[] {
  const dir = path.join(sharedPcaps, 'iti');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => /\.(pcap|pcapng)$/.test(n))
    .sort()
    .map((n) => path.join(dir, n));
}

/** 'type×n' for each detection type, in order of first appearance. */
export function typeCounts(r: SplitResult): string {
  const types = new Map<string, number>();
  for (const d of r.detections) types.set(d.type, (types.get(d.type) ?? 0) + 1);
  return [...types].map(([t, n]) => `${t}×${n}`).join(', ');
}

export function itiTables(): { whole: string; split: string } {
  const whole = [
    '| capture | contains | frames | detections | types | judged |',
    '| --- | --- | ---: | ---: | --- | --- |',
  ];
  const split = [
    '| capture | learn frames | detect frames | detect messages | detections | per 10k messages | types | judged |',
    '| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |',
  ];
  for (const f of itiCaptures()) {
    const name = path.basename(f);
    const w = learnThenDetect(f, 0);
    whole.push(
      `| ${name} | ${CONTAINS[name] ?? ''} | ${w.detectFrames} | ${w.detections.length} | ${typeCounts(w)} | ${JUDGED_WHOLE[name] ?? 'not judged'} |`,
    );
    const s = learnThenDetect(f, 0.5);
    const per10k = s.detectMessages ? (10000 * s.detections.length) / s.detectMessages : 0;
    split.push(
      `| ${name} | ${s.learnFrames} | ${s.detectFrames} | ${s.detectMessages} | ${s.detections.length} | ${per10k.toFixed(1)} | ${typeCounts(s)} | ${JUDGED_SPLIT[name] ?? (s.detections.every((d) => d.type === 'new_asset' || d.type === 'new_edge') ? 'inventory only or nothing; no operation in the detect half' : 'not judged')} |`,
    );
  }
  return { whole: whole.join('\n'), split: split.join('\n') };
}

export function recordItiQuality(): void {
  const t = itiTables();
  const body = [
    `## detection on the ITI captures (${today()})`,
    '',
    `Machine: ${machine()} (shared with other work while measured; these are counts, not timings).`,
    '',
    'Every capture in ../shared/pcaps/iti (ITI ICS-Security-Tools, OpenICS test data). First the whole capture with nothing learned (the capture is the operation, so every detection is judged against what the bytes show), then the learn-half/detect-half split used for the other captures. Judgements come from reading the cited frames with tshark; "miss" is an operation on the wire that Weir does not name.',
    '',
    '### whole capture, nothing learned',
    '',
    t.whole,
    '',
    '### learn the first half, detect on the rest',
    '',
    t.split,
    '',
  ].join('\n');
  console.log(body);
  writeSection('detection on the ITI captures', body);
}

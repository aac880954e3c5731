/** BACnet (ASHRAE 135) names used by the dissector. */
export const BVLC_FUNCTIONS: Record<number, string> = {
  0x00: 'BVLC-Result', 0x01: 'Write-BDT', 0x02: 'Read-BDT', 0x03: 'Read-BDT-Ack', 0x04: 'Forwarded-NPDU',
  0x05: 'Register-Foreign-Device', 0x06: 'Read-FDT', 0x07: 'Read-FDT-Ack', 0x08: 'Delete-FDT-Entry',
  0x09: 'Distribute-Broadcast-To-Network', 0x0a: 'Original-Unicast-NPDU', 0x0b: 'Original-Broadcast-NPDU', 0x0c: 'Secure-BVLL',
};

export const PDU_TYPES = ['confirmed-request', 'unconfirmed-request', 'simple-ack', 'complex-ack', 'segment-ack', 'error', 'reject', 'abort'];

export const CONFIRMED: string[] = [
  'acknowledgeAlarm', 'confirmedCOVNotification', 'confirmedEventNotification', 'getAlarmSummary', 'getEnrollmentSummary',
  'subscribeCOV', 'atomicReadFile', 'atomicWriteFile', 'addListElement', 'removeListElement', 'createObject', 'deleteObject',
  'readProperty', 'readPropertyConditional', 'readPropertyMultiple', 'writeProperty', 'writePropertyMultiple',
  'deviceCommunicationControl', 'confirmedPrivateTransfer', 'confirmedTextMessage', 'reinitializeDevice', 'vtOpen', 'vtClose',
  'vtData', 'authenticate', 'requestKey', 'readRange', 'lifeSafetyOperation', 'subscribeCOVProperty', 'getEventInformation',
  'subscribeCOVPropertyMultiple', 'confirmedCOVNotificationMultiple',
];

export const UNCONFIRMED: string[] = [
  'i-Am', 'i-Have', 'unconfirmedCOVNotification', 'unconfirmedEventNotification', 'unconfirmedPrivateTransfer',
  'unconfirmedTextMessage', 'timeSynchronization', 'who-Has', 'who-Is', 'utcTimeSynchronization', 'writeGroup',
  'unconfirmedCOVNotificationMultiple',
];

/** Confirmed services that change a device: values, objects, files, communication, restarts. */
export const CONFIRMED_WRITES = new Set([7, 8, 9, 10, 11, 15, 16, 17, 20, 27]);
/** Unconfirmed services that change a device (clock, group writes). */
export const UNCONFIRMED_WRITES = new Set([6, 9, 10]);

export const OBJECT_TYPES: string[] = [
  'analog-input', 'analog-output', 'analog-value', 'binary-input', 'binary-output', 'binary-value', 'calendar', 'command',
  'device', 'event-enrollment', 'file', 'group', 'loop', 'multi-state-input', 'multi-state-output', 'notification-class',
  'program', 'schedule', 'averaging', 'multi-state-value', 'trend-log', 'life-safety-point', 'life-safety-zone',
  'accumulator', 'pulse-converter', 'event-log', 'global-group', 'trend-log-multiple', 'load-control', 'structured-view',
  'access-door',
];

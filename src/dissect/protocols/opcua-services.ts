import type { FunctionCategory } from '../protocol.js';
import type { Message } from '../message.js';

/**
 * OPC UA services by the numeric node id of their DefaultBinary encoding (namespace 0, OPC UA Part 6 / NodeIds.csv),
 * the TypeId that opens every service body and what tshark shows as `opcua.servicenodeid.numeric`.
 */
export const OPCUA_SERVICES: Readonly<Record<number, string>> = {
  397: 'ServiceFault',
  410: 'TestStackRequest',
  413: 'TestStackResponse',
  416: 'TestStackExRequest',
  419: 'TestStackExResponse',
  422: 'FindServersRequest',
  425: 'FindServersResponse',
  428: 'GetEndpointsRequest',
  431: 'GetEndpointsResponse',
  437: 'RegisterServerRequest',
  440: 'RegisterServerResponse',
  446: 'OpenSecureChannelRequest',
  449: 'OpenSecureChannelResponse',
  452: 'CloseSecureChannelRequest',
  455: 'CloseSecureChannelResponse',
  461: 'CreateSessionRequest',
  464: 'CreateSessionResponse',
  467: 'ActivateSessionRequest',
  470: 'ActivateSessionResponse',
  473: 'CloseSessionRequest',
  476: 'CloseSessionResponse',
  479: 'CancelRequest',
  482: 'CancelResponse',
  488: 'AddNodesRequest',
  491: 'AddNodesResponse',
  494: 'AddReferencesRequest',
  497: 'AddReferencesResponse',
  500: 'DeleteNodesRequest',
  503: 'DeleteNodesResponse',
  506: 'DeleteReferencesRequest',
  509: 'DeleteReferencesResponse',
  527: 'BrowseRequest',
  530: 'BrowseResponse',
  533: 'BrowseNextRequest',
  536: 'BrowseNextResponse',
  554: 'TranslateBrowsePathsToNodeIdsRequest',
  557: 'TranslateBrowsePathsToNodeIdsResponse',
  560: 'RegisterNodesRequest',
  563: 'RegisterNodesResponse',
  566: 'UnregisterNodesRequest',
  569: 'UnregisterNodesResponse',
  615: 'QueryFirstRequest',
  618: 'QueryFirstResponse',
  621: 'QueryNextRequest',
  624: 'QueryNextResponse',
  631: 'ReadRequest',
  634: 'ReadResponse',
  664: 'HistoryReadRequest',
  667: 'HistoryReadResponse',
  673: 'WriteRequest',
  676: 'WriteResponse',
  700: 'HistoryUpdateRequest',
  703: 'HistoryUpdateResponse',
  712: 'CallRequest',
  715: 'CallResponse',
  751: 'CreateMonitoredItemsRequest',
  754: 'CreateMonitoredItemsResponse',
  763: 'ModifyMonitoredItemsRequest',
  766: 'ModifyMonitoredItemsResponse',
  769: 'SetMonitoringModeRequest',
  772: 'SetMonitoringModeResponse',
  775: 'SetTriggeringRequest',
  778: 'SetTriggeringResponse',
  781: 'DeleteMonitoredItemsRequest',
  784: 'DeleteMonitoredItemsResponse',
  787: 'CreateSubscriptionRequest',
  790: 'CreateSubscriptionResponse',
  793: 'ModifySubscriptionRequest',
  796: 'ModifySubscriptionResponse',
  799: 'SetPublishingModeRequest',
  802: 'SetPublishingModeResponse',
  826: 'PublishRequest',
  829: 'PublishResponse',
  832: 'RepublishRequest',
  835: 'RepublishResponse',
  841: 'TransferSubscriptionsRequest',
  844: 'TransferSubscriptionsResponse',
  847: 'DeleteSubscriptionsRequest',
  850: 'DeleteSubscriptionsResponse',
  12208: 'FindServersOnNetworkRequest',
  12209: 'FindServersOnNetworkResponse',
  12211: 'RegisterServer2Request',
  12212: 'RegisterServer2Response',
};

/** Encoding ids Weir reads beyond the TypeId. */
export const SERVICE_FAULT = 397;
export const GET_ENDPOINTS_RESPONSE = 431;
export const OPEN_SECURE_CHANNEL_REQUEST = 446;
export const OPEN_SECURE_CHANNEL_RESPONSE = 449;
export const CREATE_SESSION_REQUEST = 461;
export const READ_REQUEST = 631;
export const READ_RESPONSE = 634;
export const WRITE_REQUEST = 673;
export const CALL_REQUEST = 712;

/** Requests that change the server: its variables, its address space, its history; a method call may do anything. */
export const OPCUA_WRITES: ReadonlySet<number> = new Set([488, 494, 500, 506, 673, 700, 712]);

const CATEGORY: Readonly<Record<number, FunctionCategory>> = {
  410: 'diagnostic',
  416: 'diagnostic',
  422: 'identity',
  428: 'identity',
  12208: 'identity',
  437: 'config',
  12211: 'config',
  446: 'session',
  452: 'session',
  461: 'session',
  467: 'session',
  473: 'session',
  479: 'session',
  488: 'config',
  494: 'config',
  500: 'config',
  506: 'config',
  527: 'read',
  533: 'read',
  554: 'read',
  560: 'read',
  566: 'read',
  615: 'read',
  621: 'read',
  631: 'read',
  664: 'read',
  673: 'write',
  700: 'write',
  // A method runs server logic with the caller's arguments (start a batch, acknowledge an alarm, reset a counter).
  712: 'control',
  751: 'read',
  763: 'read',
  769: 'read',
  775: 'read',
  781: 'read',
  787: 'session',
  793: 'session',
  799: 'session',
  826: 'read',
  832: 'read',
  841: 'session',
  847: 'session',
};

/**
 * What an OPC UA request does. Transport messages (HEL, and OPN/CLO whose body is encrypted) only open or close
 * the connection; an encrypted service cannot be judged.
 */
export function opcuaCategory(m: Message): FunctionCategory {
  if (m.func < 0)
    return m.fields?.encrypted === true && m.fields.msg_type === 'MSG' ? 'unknown' : 'session';
  return CATEGORY[m.func] ?? 'unknown';
}

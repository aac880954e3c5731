# A lab Modicon for the gateway's UMAS tests: Debian's pymodbus Modbus/TCP server with a custom function 90
# handler. It answers every UMAS request OK (0xFE) the way a PLC that accepts it would, and prints each UMAS
# function it receives ("umas 0x41") on stdout, so a test can tell what reached the PLC. STOP_PLC and
# START_PLC change its run state, which READ_PLC_INFO (0x04) reports in its first data byte (1 running, 0 stopped).
import logging, struct, sys
from pymodbus.server import StartTcpServer
from pymodbus.pdu import ModbusRequest, ModbusResponse
from pymodbus.datastore import ModbusSequentialDataBlock, ModbusSlaveContext, ModbusServerContext

logging.basicConfig(level=logging.ERROR)
STATE = {"running": 1}


class UmasResponse(ModbusResponse):
    function_code = 90

    def __init__(self, data=b"", **kwargs):
        ModbusResponse.__init__(self, **kwargs)
        self.data = data

    def encode(self):
        return self.data

    def decode(self, data):
        self.data = data


class UmasRequest(ModbusRequest):
    function_code = 90

    def __init__(self, **kwargs):
        ModbusRequest.__init__(self, **kwargs)
        self.data = b""

    def encode(self):
        return self.data

    def decode(self, data):
        self.data = bytes(data)

    def execute(self, context):
        session, func = (self.data[0], self.data[1]) if len(self.data) >= 2 else (0, -1)
        print(f"umas 0x{func:02x}", flush=True)
        if func == 0x41:
            STATE["running"] = 0
        elif func == 0x40:
            STATE["running"] = 1
        extra = bytes([STATE["running"]]) if func == 0x04 else b""
        return UmasResponse(bytes([session, 0xFE]) + extra)

    def get_response_pdu_size(self):
        return 0


store = ModbusSlaveContext(hr=ModbusSequentialDataBlock(0, [i * 10 for i in range(100)]))
print("ready", flush=True)
StartTcpServer(
    context=ModbusServerContext(slaves=store, single=True),
    address=(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 502),
    custom_functions=[UmasRequest],
)

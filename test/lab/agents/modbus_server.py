# Lab PLC: a real Modbus/TCP server (Debian's pymodbus) with device identification, unit id 1.
import logging, sys
from pymodbus.server import StartTcpServer
from pymodbus.datastore import ModbusSequentialDataBlock, ModbusSlaveContext, ModbusServerContext
from pymodbus.device import ModbusDeviceIdentification

logging.basicConfig(level=logging.ERROR)
# Optional second argument: added to every holding register, so two lab PLCs answer differently.
OFFSET = int(sys.argv[2]) if len(sys.argv) > 2 else 0
store = ModbusSlaveContext(
    di=ModbusSequentialDataBlock(0, [0, 1] * 100),
    co=ModbusSequentialDataBlock(0, [1, 0] * 100),
    hr=ModbusSequentialDataBlock(0, [OFFSET + i * 10 for i in range(300)]),
    ir=ModbusSequentialDataBlock(0, [200 + i for i in range(300)]),
)
identity = ModbusDeviceIdentification(info_name={
    "VendorName": "Weir Lab Automation",
    "ProductCode": "WL-M340",
    "MajorMinorRevision": "3.20",
    "VendorUrl": "http://lab.invalid",
    "ProductName": "Lab PLC Modbus",
    "ModelName": "WL-M340-2020",
})
StartTcpServer(context=ModbusServerContext(slaves=store, single=True), identity=identity, address=(sys.argv[1] if len(sys.argv) > 1 else "0.0.0.0", 502))

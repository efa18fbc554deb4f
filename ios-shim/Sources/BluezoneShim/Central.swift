import CoreBluetooth
import Foundation

/// The driver's scanner and GATT client: scans when told, reports every advert as iOS gives it
/// (the service-data map, the service-UUID and overflow-UUID lists: nothing parsed here), reads
/// the payload characteristic of the devices the driver names, and reports Bluetooth's state.
final class Central: NSObject, CBCentralManagerDelegate, CBPeripheralDelegate {
    static let restoreIdentifier = "org.bluezone.central"

    private unowned let host: DriverHost
    private var manager: CBCentralManager!
    /// The scan the driver asked for (started as soon as the radio is on).
    private var wantScan: ScanFilters?
    /// Reads in flight (Core Bluetooth needs the peripheral kept).
    private var reads: [UUID: CBPeripheral] = [:]
    /// Connections a previous process left (state restoration): cancelled once the radio is on.
    private var restored: [CBPeripheral] = []

    init(host: DriverHost, queue: DispatchQueue) {
        self.host = host
        super.init()
        manager = CBCentralManager(delegate: self, queue: queue, options: [
            CBCentralManagerOptionRestoreIdentifierKey: Self.restoreIdentifier,
        ])
    }

    // MARK: Commands

    func startScan(filters: ScanFilters) {
        wantScan = filters
        if manager.state == .poweredOn { scan(filters) }
    }

    func stopScan() {
        wantScan = nil
        if manager.state == .poweredOn { manager.stopScan() }
    }

    private func scan(_ filters: ScanFilters) {
        manager.stopScan()
        // The FD6F filter also matches backgrounded iPhones (their overflow area); iOS has no
        // manufacturer-data filter, and the driver asks for none here.
        manager.scanForPeripherals(withServices: filters.exposureService ? [Peripheral.service] : nil, options: [
            CBCentralManagerScanOptionAllowDuplicatesKey: true,
        ])
        host.send(.scanStarted)
    }

    func readPayload(_ device: String) {
        guard manager.state == .poweredOn, let id = UUID(uuidString: device),
              let peripheral = manager.retrievePeripherals(withIdentifiers: [id]).first else {
            host.send(.payloadReadFailed(device: device, failure: .connectionFailed))
            return
        }
        reads[id] = peripheral
        peripheral.delegate = self
        manager.connect(peripheral)
    }

    func cancelConnection(_ device: String) {
        guard let id = UUID(uuidString: device), let peripheral = reads.removeValue(forKey: id) else { return }
        if manager.state == .poweredOn { manager.cancelPeripheralConnection(peripheral) }
    }

    // MARK: Bluetooth's state

    func centralManager(_ central: CBCentralManager, willRestoreState dict: [String: Any]) {
        restored = dict[CBCentralManagerRestoredStatePeripheralsKey] as? [CBPeripheral] ?? []
    }

    func centralManagerDidUpdateState(_ central: CBCentralManager) {
        if central.state == .poweredOn {
            restored.forEach { central.cancelPeripheralConnection($0) }
            restored = []
            // A scan asked for before the radio was on starts now; one a previous process left
            // running (state restoration) stops unless the driver wants it.
            if let filters = wantScan { scan(filters) } else { central.stopScan() }
        } else {
            // Connections end with the radio; the driver cancels its reads when told.
            reads.removeAll()
        }
        if let state = Self.bluetoothState(central.state) { host.send(.bluetooth(state: state)) }
        if let granted = Self.permission(CBManager.authorization) { host.send(.permission(granted: granted)) }
    }

    static func bluetoothState(_ state: CBManagerState) -> BluetoothState? {
        switch state {
        case .poweredOn: return .on
        case .poweredOff: return .off
        case .unauthorized: return .unauthorized
        case .unsupported: return .unsupported
        case .unknown, .resetting: return nil // a definite state follows
        @unknown default: return nil
        }
    }

    static func permission(_ authorization: CBManagerAuthorization) -> Bool? {
        switch authorization {
        case .allowedAlways: return true
        case .denied, .restricted: return false
        case .notDetermined: return nil // the person has not answered yet
        @unknown default: return nil
        }
    }

    // MARK: Scan results

    func centralManager(_ central: CBCentralManager, didDiscover peripheral: CBPeripheral,
                        advertisementData: [String: Any], rssi: NSNumber) {
        let serviceData = advertisementData[CBAdvertisementDataServiceDataKey] as? [CBUUID: Data] ?? [:]
        let services = advertisementData[CBAdvertisementDataServiceUUIDsKey] as? [CBUUID] ?? []
        let overflow = advertisementData[CBAdvertisementDataOverflowServiceUUIDsKey] as? [CBUUID] ?? []
        let tx = advertisementData[CBAdvertisementDataTxPowerLevelKey] as? NSNumber
        let report = ScanReport(
            device: peripheral.identifier.uuidString,
            advert: .serviceDataMap(entries: serviceData.map { ServiceDataEntry(uuid: $0.key.uuidString, data: $0.value) }),
            serviceUuids: (services + overflow).map(\.uuidString),
            appleOverflow: overflow.contains(Peripheral.service),
            rssi: Int16(clamping: rssi.intValue),
            txPowerDbm: tx.map { Int16(clamping: $0.intValue) }
        )
        host.send(.scanResult(report: report))
    }

    // MARK: Payload reads: connect, discover, read, disconnect

    func centralManager(_ central: CBCentralManager, didConnect peripheral: CBPeripheral) {
        peripheral.discoverServices([Peripheral.service])
    }

    func centralManager(_ central: CBCentralManager, didFailToConnect peripheral: CBPeripheral, error: Error?) {
        finish(peripheral, failure: .connectionFailed)
    }

    func centralManager(_ central: CBCentralManager, didDisconnectPeripheral peripheral: CBPeripheral, error: Error?) {
        finish(peripheral, failure: .connectionFailed)
    }

    func peripheral(_ peripheral: CBPeripheral, didDiscoverServices error: Error?) {
        if error != nil { return finish(peripheral, failure: .connectionFailed) }
        guard let service = peripheral.services?.first(where: { $0.uuid == Peripheral.service }) else {
            return finish(peripheral, failure: .notFound)
        }
        peripheral.discoverCharacteristics([Peripheral.payloadCharacteristic], for: service)
    }

    func peripheral(_ peripheral: CBPeripheral, didDiscoverCharacteristicsFor service: CBService, error: Error?) {
        if error != nil { return finish(peripheral, failure: .connectionFailed) }
        guard let characteristic = service.characteristics?.first(where: { $0.uuid == Peripheral.payloadCharacteristic }) else {
            return finish(peripheral, failure: .notFound)
        }
        peripheral.readValue(for: characteristic)
    }

    func peripheral(_ peripheral: CBPeripheral, didUpdateValueFor characteristic: CBCharacteristic, error: Error?) {
        guard error == nil, let value = characteristic.value else {
            return finish(peripheral, failure: .connectionFailed)
        }
        finish(peripheral, event: .payloadRead(device: peripheral.identifier.uuidString, value: value))
    }

    private func finish(_ peripheral: CBPeripheral, failure: ReadFailure) {
        finish(peripheral, event: .payloadReadFailed(device: peripheral.identifier.uuidString, failure: failure))
    }

    /// Ends a read: reported once (a cancelled read is not reported), the connection closed.
    private func finish(_ peripheral: CBPeripheral, event: DriverEvent) {
        guard reads.removeValue(forKey: peripheral.identifier) != nil else { return }
        manager.cancelPeripheralConnection(peripheral)
        host.send(event)
    }
}

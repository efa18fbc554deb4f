import CoreBluetooth
import Foundation

/// Scans for the exposure-notification service and hands what it hears to the core as iOS
/// gives it: the service-data map (Android and GAEN phones), or, for iPhones advertising in
/// the background, the payload read from their GATT characteristic. No parsing here.
final class Central: NSObject, CBCentralManagerDelegate, CBPeripheralDelegate {
    private let tracer: BluezoneTracer
    private var manager: CBCentralManager!
    private var reading: [UUID: (CBPeripheral, Int16)] = [:]
    private var pending: [Sighting] = []

    init(tracer: BluezoneTracer) {
        self.tracer = tracer
        super.init()
        manager = CBCentralManager(delegate: self, queue: nil, options: [
            CBCentralManagerOptionRestoreIdentifierKey: "org.bluezone.central",
        ])
    }

    func centralManagerDidUpdateState(_ central: CBCentralManager) {
        guard central.state == .poweredOn else { return }
        central.scanForPeripherals(withServices: [Peripheral.service], options: [
            CBCentralManagerScanOptionAllowDuplicatesKey: true,
        ])
    }

    func centralManager(_ central: CBCentralManager, willRestoreState dict: [String: Any]) {}

    func centralManager(_ central: CBCentralManager, didDiscover peripheral: CBPeripheral,
                        advertisementData: [String: Any], rssi: NSNumber) {
        let now = Int64(Date().timeIntervalSince1970)
        if let map = advertisementData[CBAdvertisementDataServiceDataKey] as? [CBUUID: Data] {
            let entries = map.map { ServiceDataEntry(uuid: $0.key.uuidString, data: $0.value) }
            record(Sighting(advert: .serviceDataMap(entries: entries), rssi: rssi.int16Value, time: now, scanWindow: nil))
        } else if reading[peripheral.identifier] == nil {
            // An iPhone advertising in the background: read its payload over GATT.
            reading[peripheral.identifier] = (peripheral, rssi.int16Value)
            peripheral.delegate = self
            central.connect(peripheral)
        }
    }

    func centralManager(_ central: CBCentralManager, didConnect peripheral: CBPeripheral) {
        peripheral.discoverServices([Peripheral.service])
    }

    func peripheral(_ peripheral: CBPeripheral, didDiscoverServices error: Error?) {
        guard let service = peripheral.services?.first(where: { $0.uuid == Peripheral.service }) else { return done(peripheral) }
        peripheral.discoverCharacteristics([Peripheral.payloadCharacteristic], for: service)
    }

    func peripheral(_ peripheral: CBPeripheral, didDiscoverCharacteristicsFor service: CBService, error: Error?) {
        guard let c = service.characteristics?.first(where: { $0.uuid == Peripheral.payloadCharacteristic }) else { return done(peripheral) }
        peripheral.readValue(for: c)
    }

    func peripheral(_ peripheral: CBPeripheral, didUpdateValueFor characteristic: CBCharacteristic, error: Error?) {
        if let value = characteristic.value, let (_, rssi) = reading[peripheral.identifier] {
            record(Sighting(advert: .serviceData(bytes: value), rssi: rssi,
                            time: Int64(Date().timeIntervalSince1970), scanWindow: nil))
        }
        done(peripheral)
    }

    private func done(_ peripheral: CBPeripheral) {
        manager.cancelPeripheralConnection(peripheral)
        reading[peripheral.identifier] = nil
    }

    private func record(_ sighting: Sighting) {
        pending.append(sighting)
        if pending.count >= 200 { flush() }
    }

    /// Hands the batch to the core (also call when the app goes to the background).
    func flush() {
        let batch = pending
        pending.removeAll()
        _ = try? tracer.recordSightings(batch: batch)
    }
}

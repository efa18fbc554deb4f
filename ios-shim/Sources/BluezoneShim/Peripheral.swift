import CoreBluetooth
import Foundation

/// Advertises the exposure-notification service. In the foreground iOS advertises the
/// service UUID (a third-party app cannot put service data in an advert, and in the
/// background not even the UUID is visible to Android). So the current 20-byte FD6F service
/// data is also served by a readable GATT characteristic: scanners that see the UUID, or the
/// Apple overflow area, connect and read it, and hand it to their core as service data.
final class Peripheral: NSObject, CBPeripheralManagerDelegate {
    static let service = CBUUID(string: "FD6F")
    static let payloadCharacteristic = CBUUID(string: "8B6F0001-0000-4B6F-9F6D-626C7565006F")

    private let tracer: BluezoneTracer
    private var manager: CBPeripheralManager!
    private var rotation: Timer?

    init(tracer: BluezoneTracer) {
        self.tracer = tracer
        super.init()
        manager = CBPeripheralManager(delegate: self, queue: nil, options: [
            CBPeripheralManagerOptionRestoreIdentifierKey: "org.bluezone.peripheral",
        ])
    }

    func peripheralManagerDidUpdateState(_ peripheral: CBPeripheralManager) {
        guard peripheral.state == .poweredOn else { return }
        let characteristic = CBMutableCharacteristic(
            type: Self.payloadCharacteristic, properties: [.read], value: nil, permissions: [.readable])
        let service = CBMutableService(type: Self.service, primary: true)
        service.characteristics = [characteristic]
        peripheral.removeAllServices()
        peripheral.add(service)
        restart()
    }

    func peripheralManager(_ peripheral: CBPeripheralManager, willRestoreState dict: [String: Any]) {}

    /// Serves the payload of the moment: it changes with each rotation.
    func peripheralManager(_ peripheral: CBPeripheralManager, didReceiveRead request: CBATTRequest) {
        guard let ad = try? tracer.currentAdvertisement() else {
            peripheral.respond(to: request, withResult: .unlikelyError)
            return
        }
        request.value = ad.serviceData.subdata(in: request.offset..<ad.serviceData.count)
        peripheral.respond(to: request, withResult: .success)
    }

    /// Restarts advertising at each rotation the core schedules (a new address with the RPI).
    private func restart() {
        manager.stopAdvertising()
        manager.startAdvertising([CBAdvertisementDataServiceUUIDsKey: [Self.service]])
        guard let ad = try? tracer.currentAdvertisement() else { return }
        let delay = max(1, TimeInterval(ad.nextRotationAt) - Date().timeIntervalSince1970)
        rotation?.invalidate()
        rotation = Timer.scheduledTimer(withTimeInterval: delay, repeats: false) { [weak self] _ in self?.restart() }
    }
}

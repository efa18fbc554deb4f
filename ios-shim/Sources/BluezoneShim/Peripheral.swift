import CoreBluetooth
import Foundation

/// The driver's advertiser and GATT server. A third-party iOS app cannot put service data in
/// an advert, so it advertises the FD6F service UUID (in the background iOS moves it to Apple's
/// overflow area) and serves the payload from a readable characteristic; scanners connect and
/// read it. Each read request goes to the driver, which answers with the payload on air (or
/// "invalid offset"); the bytes are never sliced here.
final class Peripheral: NSObject, CBPeripheralManagerDelegate {
    static let service = CBUUID(string: "FD6F")
    static let payloadCharacteristic = CBUUID(string: "8B6F0001-0000-4B6F-9F6D-626C7565006F")
    static let restoreIdentifier = "org.bluezone.peripheral"

    private unowned let host: DriverHost
    private var manager: CBPeripheralManager!
    /// What the driver asked to advertise (applied as soon as the radio is on).
    private var wanted: AdvertisingRequest?
    private var serviceAdded = false
    /// A previous process's advertising and services (state restoration): removed once on.
    private var restored = false
    /// Read requests waiting for the driver's answer, by the id the driver echoes.
    private var requests: [UInt64: CBATTRequest] = [:]
    private var lastRequest: UInt64 = 0

    init(host: DriverHost, queue: DispatchQueue) {
        self.host = host
        super.init()
        manager = CBPeripheralManager(delegate: self, queue: queue, options: [
            CBPeripheralManagerOptionRestoreIdentifierKey: Self.restoreIdentifier,
        ])
    }

    // MARK: Commands

    func startAdvertising(_ request: AdvertisingRequest) {
        wanted = request
        if manager.state == .poweredOn { apply(request) }
    }

    func stopAdvertising() {
        wanted = nil
        if manager.state == .poweredOn { manager.stopAdvertising() }
    }

    /// Answers request `id`: the driver's bytes, or "invalid offset" when it gives none.
    func respond(to id: UInt64, value: Data?) {
        guard let request = requests.removeValue(forKey: id) else { return }
        if let value {
            request.value = value
            manager.respond(to: request, withResult: .success)
        } else {
            manager.respond(to: request, withResult: .invalidOffset)
        }
    }

    /// Stops whatever is on air, then advertises `request` (a restart goes with a new address).
    private func apply(_ request: AdvertisingRequest) {
        manager.stopAdvertising()
        if request.servePayload && !serviceAdded {
            // No fixed value: every read comes to `didReceiveRead`, so the value is always the
            // payload on air now.
            let characteristic = CBMutableCharacteristic(
                type: Self.payloadCharacteristic, properties: [.read], value: nil, permissions: [.readable])
            let service = CBMutableService(type: Self.service, primary: true)
            service.characteristics = [characteristic]
            manager.add(service)
            serviceAdded = true
        }
        // iOS advertises the service UUID only (`includeServiceData` is false on iOS).
        manager.startAdvertising([CBAdvertisementDataServiceUUIDsKey: [Self.service]])
    }

    // MARK: Events

    func peripheralManager(_ peripheral: CBPeripheralManager, willRestoreState dict: [String: Any]) {
        restored = true
    }

    func peripheralManagerDidUpdateState(_ peripheral: CBPeripheralManager) {
        guard peripheral.state == .poweredOn else {
            // Services and advertising end with the radio; requests cannot be answered.
            serviceAdded = false
            requests.removeAll()
            return
        }
        if restored {
            peripheral.stopAdvertising()
            peripheral.removeAllServices()
            restored = false
        }
        if let wanted { apply(wanted) }
    }

    func peripheralManagerDidStartAdvertising(_ peripheral: CBPeripheralManager, error: Error?) {
        if let error {
            host.send(.advertisingFailed(reason: error.localizedDescription))
        } else {
            host.send(.advertisingStarted)
        }
    }

    func peripheralManager(_ peripheral: CBPeripheralManager, didReceiveRead request: CBATTRequest) {
        guard request.characteristic.uuid == Self.payloadCharacteristic else {
            peripheral.respond(to: request, withResult: .attributeNotFound)
            return
        }
        lastRequest &+= 1
        let id = lastRequest
        requests[id] = request
        host.send(.payloadRequested(request: id, offset: UInt32(clamping: request.offset)))
        // The driver answers within `send`; if it failed, the central is not left waiting.
        if let unanswered = requests.removeValue(forKey: id) {
            peripheral.respond(to: unanswered, withResult: .unlikelyError)
        }
    }
}

@_exported import Bluezone
import Foundation

/// The app's entry point: opens the core off the main thread with the Keychain-held key,
/// runs the phone driver (`DriverHost`), registers the background downloads and the fake
/// upload sequences (`Chaff`), and answers the
/// screen's questions without ever calling the core on the main thread.
///
/// ```swift
/// // In application(_:didFinishLaunchingWithOptions:), also on background relaunches:
/// let bluezone = BluezoneService.start(config: config, server: URL(string: "https://…")!)
/// ```
public final class BluezoneService {
    /// The driver's executor (status callbacks: `host.onStatus`).
    public let host: DriverHost
    private let opened: Once<OpenedTracer>

    private init(config: BluezoneConfig, server: URL, settings: DriverSettings?, database: URL) {
        let opened = Once<OpenedTracer>()
        self.opened = opened
        host = DriverHost(settings: settings, open: {
            try BluezoneService.prepare(database)
            let result = try openTracer(config: config, storagePath: database.path,
                                        masterKey: KeychainMasterKey.load())
            opened.set(.success(result))
            return result.tracer
        }, opened: { result in
            if case let .failure(error) = result { opened.set(.failure(error)) }
        })
        Downloads.register(server: server) { try await opened.wait().tracer }
        Chaff.register(server: server) { try await opened.wait().tracer }
    }

    /// Call once, on the main queue, in `application(_:didFinishLaunchingWithOptions:)` (iOS
    /// relaunches the app in the background for Bluetooth and for downloads; the managers and
    /// the tasks must exist before that method returns).
    public static func start(config: BluezoneConfig, server: URL, settings: DriverSettings? = nil,
                             database: URL = BluezoneService.defaultDatabase) -> BluezoneService {
        BluezoneService(config: config, server: server, settings: settings, database: database)
    }

    /// `Application Support/Bluezone/bluezone.db`.
    public static var defaultDatabase: URL {
        let support = FileManager.default.urls(for: .applicationSupportDirectory, in: .userDomainMask)[0]
        return support.appendingPathComponent("Bluezone", isDirectory: true).appendingPathComponent("bluezone.db")
    }

    /// The store's folder: readable in the background after the first unlock, never in
    /// backups (the Keychain key that opens the store stays on this device).
    private static func prepare(_ database: URL) throws {
        var folder = database.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true, attributes: [
            .protectionKey: FileProtectionType.completeUntilFirstUserAuthentication,
        ])
        var values = URLResourceValues()
        values.isExcludedFromBackup = true
        try folder.setResourceValues(values)
    }

    /// Why the store was started afresh at this launch (`nil`: it was not). Show it once:
    /// the exposure history on this phone starts today; turn exposure notifications on again.
    public func storeReset() async throws -> StoreReset? { try await opened.wait().reset }

    /// The person turned exposure notifications on (after Bluetooth permission).
    public func enable() { host.enable() }

    /// The person turned them off.
    public func disable() { host.disable() }

    /// The current exposure decision.
    public func exposureStatus() async throws -> ExposureStatus {
        let tracer = try await opened.wait().tracer
        return try await Task.detached { try tracer.exposureStatus() }.value
    }

    /// Devices heard in the last scan window, by distance class (`nil`: not collecting yet).
    public func nearbyNow() async throws -> NearbyCount? { try await host.nearbyNow() }

    /// "I tested positive", step 1: the official's code for a token (the core seals it).
    public func verifyCode(_ code: String, server: URL) async throws -> VerifiedCode {
        try await opened.wait().tracer.verifyCode(http: URLSessionHttpClient(base: server), code: code)
    }

    /// Step 2, after the person agreed at `consentAt` (the core refuses consent older than
    /// 10 minutes): uploads this phone's keys; returns how many the server accepted.
    public func uploadKeys(_ verified: VerifiedCode, consentAt: Date, server: URL) async throws -> UInt32 {
        try await opened.wait().tracer.uploadKeys(http: URLSessionHttpClient(base: server), verified: verified,
                                                  consentAt: Int64(consentAt.timeIntervalSince1970))
    }

    /// Deletes everything: the core's data, then the Keychain key.
    public func deleteAllData() async throws {
        disable()
        let tracer = try await opened.wait().tracer
        try await Task.detached { try tracer.deleteAllData() }.value
        KeychainMasterKey.destroy()
    }
}

/// A value awaited by many: the first success is kept; a failure is given to waiters until a
/// success replaces it (a store that failed to open while the Keychain was locked opens later).
final class Once<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Result<T, Error>?
    private var waiters: [CheckedContinuation<T, Error>] = []

    func set(_ result: Result<T, Error>) {
        lock.lock()
        if case .success = value {
            lock.unlock()
            return
        }
        value = result
        let ready = waiters
        waiters = []
        lock.unlock()
        ready.forEach { $0.resume(with: result) }
    }

    func wait() async throws -> T {
        try await withCheckedThrowingContinuation { done in
            lock.lock()
            if let value {
                lock.unlock()
                done.resume(with: value)
            } else {
                waiters.append(done)
                lock.unlock()
            }
        }
    }
}

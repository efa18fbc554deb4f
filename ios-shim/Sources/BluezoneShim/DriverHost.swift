import CoreBluetooth
import Foundation
import Security
import UIKit

/// Owns the core's phone driver and carries out what it asks: every platform event goes to
/// `BluezoneDriver.handle` with the wall-clock time, and every command that comes back is
/// routed to `Central` (scanning, payload reads), `Peripheral` (advertising, payload reads
/// served) or done here (wake-ups, background time, status). Nothing is decided in Swift and
/// no sighting waits in Swift memory: each scan result goes to the driver, which stores it.
///
/// Everything runs on one serial queue, the Core Bluetooth managers' queue, including every
/// call into the core. An event sent while
/// commands are being carried out (a callback from inside a command) is handled right after
/// them, so commands are never interleaved.
public final class DriverHost {
    static let queue = DispatchQueue(label: "org.bluezone.driver")

    /// Set on the driver's queue once the tracer is open (`nil` if opening failed).
    private var driver: BluezoneDriver?
    private var central: Central!
    private var peripheral: Peripheral!
    private var pending: [DriverEvent] = []
    private var draining = false
    private var timer: DispatchSourceTimer?
    private var backgroundTask: UIBackgroundTaskIdentifier = .invalid
    private var observers: [NSObjectProtocol] = []

    /// Every status the driver shows (called on the main queue).
    public var onStatus: ((CollectionStatus) -> Void)?
    /// The driver's errors, for the app's log (called on the driver's queue).
    public var onError: ((Error) -> Void)?

    private let settings: DriverSettings?
    private let open: () throws -> BluezoneTracer
    private let opened: (Result<BluezoneTracer, Error>) -> Void
    private let reason: RestartReason
    private var facts: [DriverEvent] = []
    /// Events that arrived before the driver could be made, in order (at most 256).
    private var early: [DriverEvent] = []

    /// Call once at launch, on the main queue, also when iOS relaunches the app in the
    /// background for Bluetooth (state restoration). The Core Bluetooth managers (with their
    /// restoration identifiers) are made at once on the driver's queue; `open` runs there too,
    /// never on main (it reads the Keychain and the store). Then the driver resumes from its
    /// saved state and is told `Restarted`, the facts read at launch, and what the managers
    /// reported meanwhile. If `open` throws (the Keychain is locked after a reboot), `opened`
    /// gets the error, the events wait, and opening is tried again when protected data
    /// becomes available and at the next event.
    public init(settings: DriverSettings? = nil,
                open: @escaping () throws -> BluezoneTracer,
                opened: @escaping (Result<BluezoneTracer, Error>) -> Void = { _ in }) {
        dispatchPrecondition(condition: .onQueue(.main))
        self.settings = settings
        self.open = open
        self.opened = opened
        reason = Self.restartReason()
        let app = UIApplication.shared
        let facts: [DriverEvent] = [
            .app(state: app.applicationState == .active ? .foreground : .background),
            .screen(on: app.isProtectedDataAvailable),
            .powerSave(on: ProcessInfo.processInfo.isLowPowerModeEnabled),
        ]
        Self.queue.async {
            self.facts = facts
            self.central = Central(host: self, queue: Self.queue)
            self.peripheral = Peripheral(host: self, queue: Self.queue)
            self.openDriver()
        }
        observe()
    }

    /// Makes the driver if it is not made yet (on the driver's queue).
    private func openDriver() {
        dispatchPrecondition(condition: .onQueue(Self.queue))
        guard driver == nil else { return }
        let tracer: BluezoneTracer
        do {
            tracer = try open()
            driver = try BluezoneDriver(tracer: tracer, platform: .ios, settings: settings,
                                        seed: Self.seed(), nowMs: Self.nowMs())
        } catch {
            opened(.failure(error))
            return
        }
        let waiting = early
        early = []
        send(.restarted(reason: reason))
        facts.forEach(send)
        waiting.forEach(send)
        opened(.success(tracer))
    }

    /// The person turned exposure notifications on.
    public func enable() { Self.queue.async { self.send(.enable) } }

    /// The person turned them off.
    public func disable() { Self.queue.async { self.send(.disable) } }

    /// What to show the person now (`nil` until the driver runs).
    public func status() async throws -> CollectionStatus? { try await onQueue { try $0?.status() } }

    /// Devices heard in the last scan window, by distance class.
    public func nearbyNow() async throws -> NearbyCount? { try await onQueue { try $0?.nearby() } }

    /// The tracer's diagnostics with collection filled in.
    public func diagnostics() async throws -> Diagnostics? { try await onQueue { try $0?.diagnostics() } }

    /// Runs `body` with the driver on its queue (never on the caller's thread).
    private func onQueue<T>(_ body: @escaping (BluezoneDriver?) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { done in
            Self.queue.async { done.resume(with: Result { try body(self.driver) }) }
        }
    }

    /// Hands one event to the driver and carries out its commands (on the driver's queue).
    func send(_ event: DriverEvent) {
        dispatchPrecondition(condition: .onQueue(Self.queue))
        guard let driver else {
            if early.count < 256 { early.append(event) }
            return
        }
        pending.append(event)
        guard !draining else { return }
        draining = true
        defer { draining = false }
        while !pending.isEmpty {
            let next = pending.removeFirst()
            let commands: [DriverCommand]
            do {
                commands = try driver.handle(nowMs: Self.nowMs(), event: next)
            } catch {
                onError?(error)
                continue
            }
            commands.forEach(execute)
        }
    }

    private func execute(_ command: DriverCommand) {
        switch command {
        case let .startScan(filters, _, _): central.startScan(filters: filters)
        case .stopScan: central.stopScan()
        case let .startAdvertising(request): peripheral.startAdvertising(request)
        case .stopAdvertising: peripheral.stopAdvertising()
        case let .readPayload(device): central.readPayload(device)
        case let .cancelConnection(device): central.cancelConnection(device)
        case let .respondToRead(request, value): peripheral.respond(to: request, value: value)
        case let .wakeAt(atMs): wake(at: atMs)
        case .holdWakeLock: beginBackgroundTime()
        case .releaseWakeLock: endBackgroundTime()
        case let .showStatus(status): DispatchQueue.main.async { self.onStatus?(status) }
        }
    }

    /// `Timer` at `atMs` while the app runs (a suspended app wakes for Bluetooth events only;
    /// the driver scans continuously on iOS and copes with late timers).
    private func wake(at atMs: Int64) {
        timer?.cancel()
        let seconds = max(0, Double(atMs - Self.nowMs()) / 1000)
        let source = DispatchSource.makeTimerSource(queue: Self.queue)
        source.schedule(wallDeadline: .now() + seconds)
        source.setEventHandler { [weak self] in self?.send(.timer) }
        source.resume()
        timer = source
    }

    /// `HoldWakeLock`: background execution time, until `ReleaseWakeLock` or iOS ends it.
    private func beginBackgroundTime() {
        guard backgroundTask == .invalid else { return }
        backgroundTask = UIApplication.shared.beginBackgroundTask(withName: "bluezone-radio") { [weak self] in
            // iOS expects the task ended before this handler returns.
            Self.queue.sync { self?.endBackgroundTime() }
        }
    }

    private func endBackgroundTime() {
        guard backgroundTask != .invalid else { return }
        UIApplication.shared.endBackgroundTask(backgroundTask)
        backgroundTask = .invalid
    }

    /// The app's lifecycle, the lock screen and Low Power Mode, as events.
    private func observe() {
        let center = NotificationCenter.default
        let post: [(Notification.Name, DriverEvent)] = [
            (UIApplication.didBecomeActiveNotification, .app(state: .foreground)),
            (UIApplication.didEnterBackgroundNotification, .app(state: .background)),
            (UIApplication.protectedDataDidBecomeAvailableNotification, .screen(on: true)),
            (UIApplication.protectedDataWillBecomeUnavailableNotification, .screen(on: false)),
        ]
        for (name, event) in post {
            observers.append(center.addObserver(forName: name, object: nil, queue: nil) { [weak self] _ in
                Self.queue.async {
                    self?.openDriver() // a store that could not open (locked Keychain) is tried again
                    self?.send(event)
                }
            })
        }
        observers.append(center.addObserver(forName: .NSProcessInfoPowerStateDidChange, object: nil, queue: nil) { [weak self] _ in
            let on = ProcessInfo.processInfo.isLowPowerModeEnabled
            Self.queue.async { self?.send(.powerSave(on: on)) }
        })
        // The process ends when this returns: the driver stores what it holds first.
        observers.append(center.addObserver(forName: UIApplication.willTerminateNotification, object: nil, queue: nil) { [weak self] _ in
            Self.queue.sync { self?.send(.app(state: .terminating)) }
        })
    }

    deinit {
        observers.forEach { NotificationCenter.default.removeObserver($0) }
    }

    static func nowMs() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }

    /// The scan jitter's seed, from the system's generator.
    private static func seed() -> UInt64 {
        var seed: UInt64 = 0
        _ = withUnsafeMutableBytes(of: &seed) { SecRandomCopyBytes(kSecRandomDefault, 8, $0.baseAddress!) }
        return seed
    }

    /// An update if the build changed since the last launch; any other launch resumes after
    /// the process ended (iOS cannot tell a reboot apart).
    private static func restartReason() -> RestartReason {
        let key = "org.bluezone.lastBuild"
        let build = Bundle.main.object(forInfoDictionaryKey: "CFBundleVersion") as? String ?? ""
        let last = UserDefaults.standard.string(forKey: key)
        UserDefaults.standard.set(build, forKey: key)
        return last != nil && last != build ? .appUpdate : .processRestart
    }
}

import BackgroundTasks
import Foundation
import UserNotifications

/// Background downloads: a `BGProcessingTask` (network required; iOS runs it when the phone
/// is idle, typically overnight on power) and a `BGAppRefreshTask` (short, more frequent).
/// Both make one call into the core, `downloadAll`, which fetches and matches every new key
/// file and says what to do next; when iOS ends the task early, its expiration handler sets
/// the core's cancellation flag and aborts the request in flight, and what was processed is
/// kept. Both identifiers must be listed in Info.plist `BGTaskSchedulerPermittedIdentifiers`.
public enum Downloads {
    /// The refresh task's identifier.
    public static let refreshIdentifier = "org.bluezone.download.refresh"
    /// The processing task's identifier.
    public static let processingIdentifier = "org.bluezone.download.processing"

    /// Registers both tasks; call before `didFinishLaunching` returns. `tracer` is awaited by
    /// each task (the store may still be opening).
    public static func register(server: URL, tracer: @escaping () async throws -> BluezoneTracer) {
        for identifier in [refreshIdentifier, processingIdentifier] {
            BGTaskScheduler.shared.register(forTaskWithIdentifier: identifier, using: nil) { task in
                run(task, server: server, tracer: tracer)
            }
        }
        // Only when nothing is scheduled: a new request replaces a waiting one, and iOS
        // relaunches the app for Bluetooth often enough to push the downloads back for ever.
        BGTaskScheduler.shared.getPendingTaskRequests { pending in
            if !pending.contains(where: { $0.identifier == refreshIdentifier }) { schedule(after: 4 * 3600) }
        }
    }

    /// Asks iOS for the next runs (at the earliest after `seconds`).
    public static func schedule(after seconds: TimeInterval) {
        let refresh = BGAppRefreshTaskRequest(identifier: refreshIdentifier)
        refresh.earliestBeginDate = Date(timeIntervalSinceNow: seconds)
        try? BGTaskScheduler.shared.submit(refresh)
        let processing = BGProcessingTaskRequest(identifier: processingIdentifier)
        processing.requiresNetworkConnectivity = true
        processing.earliestBeginDate = Date(timeIntervalSinceNow: seconds)
        try? BGTaskScheduler.shared.submit(processing)
    }

    private static func run(_ task: BGTask, server: URL, tracer: @escaping () async throws -> BluezoneTracer) {
        let http = URLSessionHttpClient(base: server)
        let cancellation = DownloadCancellation()
        let work = Task {
            let report: DownloadReport
            do {
                report = try await tracer().downloadAll(http: http, cancellation: cancellation)
            } catch {
                // The store did not open: nothing to download into. Try at the usual time.
                schedule(after: 4 * 3600)
                task.setTaskCompleted(success: false)
                return
            }
            // Whatever the end: a batch before a failure may have found the exposure.
            if report.status.newlyNotified { await ExposureNotification.post() }
            switch report.end {
            case .done:
                schedule(after: 4 * 3600)
                task.setTaskCompleted(success: true)
            case .cancelled, .retrySoon:
                schedule(after: 15 * 60)
                task.setTaskCompleted(success: false)
            case .waitForNextRun:
                schedule(after: 4 * 3600)
                task.setTaskCompleted(success: false)
            }
        }
        task.expirationHandler = {
            cancellation.cancel()
            http.cancelAll()
            work.cancel()
        }
    }
}

/// The exposure notification: it says what to do, not who or where; tapping it opens the
/// app. Posted only if the person allowed notifications; otherwise the app shows the
/// exposure when opened (the state is in the store either way).
public enum ExposureNotification {
    /// Texts; apps set their own (Vietnamese first for Bluezone).
    public static var title = "Bạn có thể đã tiếp xúc với người nhiễm bệnh"
    public static var body = "Mở ứng dụng để xem thời điểm và việc cần làm tiếp theo."

    /// Posts it if notifications are allowed; returns whether it did.
    @discardableResult
    public static func post() async -> Bool {
        let center = UNUserNotificationCenter.current()
        let settings = await center.notificationSettings()
        guard settings.authorizationStatus == .authorized || settings.authorizationStatus == .provisional else {
            return false
        }
        let content = UNMutableNotificationContent()
        content.title = title
        content.body = body
        content.sound = .default
        do {
            try await center.add(UNNotificationRequest(identifier: "bluezone-exposure", content: content, trigger: nil))
            return true
        } catch {
            return false
        }
    }
}

/// The core's HTTP over URLSession (HTTPS to the authority). The core calls it on its own
/// worker thread, so waiting here blocks no UI; `cancelAll` aborts what is in flight.
public final class URLSessionHttpClient: HttpClient, @unchecked Sendable {
    private let base: URL
    private let session: URLSession
    private let lock = NSLock()
    private var tasks: [Int: URLSessionDataTask] = [:]
    private var cancelled = false

    /// A client for the authority's server at `base` (`https://…`).
    public init(base: URL, session: URLSession = .shared) {
        self.base = base
        self.session = session
    }

    public func post(path: String, body: Data) throws -> HttpResponse {
        var request = URLRequest(url: base.appendingPathComponent(path), timeoutInterval: 30)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = body
        return try send(request)
    }

    public func get(path: String) throws -> HttpResponse {
        try send(URLRequest(url: base.appendingPathComponent(path), timeoutInterval: 30))
    }

    /// Aborts every request in flight and refuses new ones.
    public func cancelAll() {
        lock.lock()
        cancelled = true
        let inFlight = Array(tasks.values)
        lock.unlock()
        inFlight.forEach { $0.cancel() }
    }

    private func send(_ request: URLRequest) throws -> HttpResponse {
        let done = DispatchSemaphore(value: 0)
        var outcome: Result<HttpResponse, Error> = .failure(URLError(.cancelled))
        let task = session.dataTask(with: request) { data, response, error in
            if let error {
                outcome = .failure(error)
            } else {
                let status = UInt16((response as? HTTPURLResponse)?.statusCode ?? 0)
                outcome = .success(HttpResponse(status: status, body: data ?? Data()))
            }
            done.signal()
        }
        lock.lock()
        if cancelled {
            lock.unlock()
            throw BluezoneError.Network(code: 30, reason: "cancelled")
        }
        tasks[task.taskIdentifier] = task
        lock.unlock()
        task.resume()
        done.wait()
        lock.lock()
        tasks[task.taskIdentifier] = nil
        lock.unlock()
        switch outcome {
        case .success(let response): return response
        // Only the error's kind: its description may hold the URL.
        case .failure(let error): throw BluezoneError.Network(code: 30, reason: String(describing: type(of: error)))
        }
    }
}

import BackgroundTasks
import Foundation
import UserNotifications

/// Background downloads (BGTaskScheduler) and the exposure notification.
enum Downloads {
    static let taskIdentifier = "org.bluezone.download"

    /// Register at launch (the identifier must be in Info.plist `BGTaskSchedulerPermittedIdentifiers`).
    static func register(tracer: BluezoneTracer, http: HttpClient) {
        BGTaskScheduler.shared.register(forTaskWithIdentifier: taskIdentifier, using: nil) { task in
            schedule()
            let work = Task {
                do {
                    let status = try await tracer.downloadKeyFiles(http: http)
                    try tracer.runMaintenance()
                    if status.newlyNotified { notify() }
                    task.setTaskCompleted(success: true)
                } catch {
                    task.setTaskCompleted(success: false)
                }
            }
            task.expirationHandler = { work.cancel() }
        }
        schedule()
    }

    static func schedule() {
        let request = BGAppRefreshTaskRequest(identifier: taskIdentifier)
        request.earliestBeginDate = Date(timeIntervalSinceNow: 4 * 3600)
        try? BGTaskScheduler.shared.submit(request)
    }

    static func notify() {
        let content = UNMutableNotificationContent()
        content.title = "You may have been exposed"
        content.body = "Open the app to see when, and what to do next."
        UNUserNotificationCenter.current().add(UNNotificationRequest(identifier: "bluezone-exposure", content: content, trigger: nil))
    }
}

/// The core's HTTP over URLSession (HTTPS to the authority).
final class URLSessionHttpClient: HttpClient {
    private let base: URL
    init(base: URL) { self.base = base }

    func post(path: String, body: Data) throws -> HttpResponse {
        var request = URLRequest(url: base.appendingPathComponent(path))
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = body
        return try send(request)
    }

    func get(path: String) throws -> HttpResponse {
        try send(URLRequest(url: base.appendingPathComponent(path)))
    }

    /// The core calls this on its own worker thread, so waiting here blocks no UI.
    private func send(_ request: URLRequest) throws -> HttpResponse {
        let done = DispatchSemaphore(value: 0)
        var outcome: Result<HttpResponse, Error> = .failure(URLError(.unknown))
        URLSession.shared.dataTask(with: request) { data, response, error in
            if let error { outcome = .failure(error) } else {
                let status = UInt16((response as? HTTPURLResponse)?.statusCode ?? 0)
                outcome = .success(HttpResponse(status: status, body: data ?? Data()))
            }
            done.signal()
        }.resume()
        done.wait()
        switch outcome {
        case .success(let r): return r
        case .failure(let e): throw BluezoneError.Network(code: 30, reason: String(describing: type(of: e)))
        }
    }
}

import BackgroundTasks
import Foundation

/// Fake upload sequences ("chaff"), so that a real upload cannot be told apart on the
/// network: a `BGAppRefreshTask` asked for when the core says the next sequence is due. It
/// makes one call, `runDueChaff` (the schedule, the requests and their spacing, at most 20
/// seconds, are Rust's), and asks for the next run. When iOS ends the task early its
/// expiration handler ends the sequence at its pause. The identifier must be listed in
/// Info.plist `BGTaskSchedulerPermittedIdentifiers`. Nothing here touches keys or the
/// pending upload.
public enum Chaff {
    /// The task's identifier.
    public static let identifier = "org.bluezone.chaff"

    /// Registers the task; call before `didFinishLaunching` returns. `tracer` is awaited by
    /// the task (the store may still be opening).
    public static func register(server: URL, tracer: @escaping () async throws -> BluezoneTracer) {
        BGTaskScheduler.shared.register(forTaskWithIdentifier: identifier, using: nil) { task in
            run(task, server: server, tracer: tracer)
        }
        BGTaskScheduler.shared.getPendingTaskRequests { pending in
            guard !pending.contains(where: { $0.identifier == identifier }) else { return }
            Task { schedule(at: try? await tracer().nextChaffAt()) }
        }
    }

    /// Asks iOS for a run at `unixSeconds` (none: chaff is off).
    public static func schedule(at unixSeconds: Int64?) {
        guard let unixSeconds else { return }
        let request = BGAppRefreshTaskRequest(identifier: identifier)
        request.earliestBeginDate = Date(timeIntervalSince1970: TimeInterval(unixSeconds))
        try? BGTaskScheduler.shared.submit(request)
    }

    private static func run(_ task: BGTask, server: URL, tracer: @escaping () async throws -> BluezoneTracer) {
        let http = URLSessionHttpClient(base: server)
        let cancellation = DownloadCancellation()
        let work = Task {
            do {
                let core = try await tracer()
                do {
                    let report = try await core.runDueChaff(http: http, cancellation: cancellation)
                    schedule(at: report.nextAt)
                } catch {
                    // A fake sequence that failed is not retried (the core drew the next one).
                    schedule(at: try? core.nextChaffAt())
                }
                task.setTaskCompleted(success: true)
            } catch {
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

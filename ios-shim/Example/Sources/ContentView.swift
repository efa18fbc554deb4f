import BluezoneShim
import SwiftUI
import UserNotifications

/// The one screen: status, nearby now, exposure state, and "I tested positive" (code,
/// consent, upload). Every core call is `async` and runs off the main thread.
struct ContentView: View {
    let bluezone: BluezoneService
    let server: URL
    @State private var status = "…"
    @State private var nearby = "…"
    @State private var exposure = ""
    @State private var notice = ""
    @State private var code = ""
    @State private var verified: VerifiedCode?
    @State private var agreed = false

    var body: some View {
        Form {
            Section {
                Text(status)
                Button("Bật thông báo tiếp xúc / Turn on") {
                    UNUserNotificationCenter.current().requestAuthorization(options: [.alert, .sound]) { _, _ in }
                    bluezone.enable() // iOS asks for Bluetooth permission when the managers start
                }
                Button("Tắt / Turn off") { bluezone.disable() }
                Text(nearby)
                Text(exposure)
                if !notice.isEmpty { Text(notice).foregroundColor(.orange) }
            }
            Section("Tôi có kết quả dương tính / I tested positive") {
                TextField("Mã 8 chữ số / 8-digit code", text: $code).keyboardType(.numberPad)
                Button("Kiểm tra mã / Check the code") { Task { await verify() } }
                if verified != nil {
                    Toggle("Chia sẻ các khóa ngẫu nhiên của 14 ngày qua; không chia sẻ tên, số điện thoại hay vị trí. / Share the random keys of the last 14 days; no name, number or location.", isOn: $agreed)
                    Button("Chia sẻ / Share") { Task { await upload() } }.disabled(!agreed)
                }
            }
        }
        .task {
            bluezone.host.onStatus = { status = "\($0.state)" }
            if (try? await bluezone.storeReset()) != nil {
                notice = "Không thể khôi phục lịch sử tiếp xúc trên điện thoại này; hãy bật lại. / Your history could not be restored on this phone; turn it on again."
            }
            while !Task.isCancelled {
                await refresh()
                try? await Task.sleep(nanoseconds: 10_000_000_000)
            }
        }
    }

    private func refresh() async {
        if let count = try? await bluezone.nearbyNow() {
            nearby = "Ở gần / nearby: \(count.near) · \(count.mid) · \(count.far)"
        }
        if let state = try? await bluezone.exposureStatus() {
            exposure = state.notify ? "Bạn có thể đã tiếp xúc / You may have been exposed" : "Chưa phát hiện tiếp xúc / No exposure found"
        }
    }

    private func verify() async {
        do { verified = try await bluezone.verifyCode(code, server: server) } catch { notice = "\(error)" }
    }

    private func upload() async {
        guard let verified, agreed else { return }
        do {
            let keys = try await bluezone.uploadKeys(verified, consentAt: Date(), server: server)
            notice = "Cảm ơn bạn / Thank you: \(keys)"
            self.verified = nil
        } catch {
            notice = "\(error)"
        }
    }
}

import BluezoneShim
import SwiftUI
import UIKit

/// Starts Bluezone at every launch, including iOS's background relaunches for Bluetooth
/// (state restoration) and downloads: both need it before launching finishes.
final class AppDelegate: NSObject, UIApplicationDelegate {
    static let server = URL(string: Bundle.main.object(forInfoDictionaryKey: "BluezoneServer") as? String ?? "")!
    private(set) static var bluezone: BluezoneService!

    func application(_ application: UIApplication,
                     didFinishLaunchingWithOptions options: [UIApplication.LaunchOptionsKey: Any]? = nil) -> Bool {
        let info = Bundle.main
        let config = BluezoneConfig(
            txPowerDbm: -15, // from the calibration table for this model in a real app
            rssiCorrectionDb: 0,
            trustedSigners: [TrustedSigner(keyId: "452", keyVersion: "v1",
                                           publicKey: info.object(forInfoDictionaryKey: "BluezoneSignerKey") as? String ?? "")],
            uploadPublicKey: (info.object(forInfoDictionaryKey: "BluezoneUploadKey") as? String).flatMap { $0.isEmpty ? nil : $0 }
        )
        Self.bluezone = BluezoneService.start(config: config, server: Self.server)
        return true
    }
}

@main
struct ExampleApp: App {
    @UIApplicationDelegateAdaptor(AppDelegate.self) var delegate

    var body: some Scene {
        WindowGroup { ContentView(bluezone: AppDelegate.bluezone, server: AppDelegate.server) }
    }
}

import Foundation
import Security

/// The core's 32-byte master key in the Keychain, readable only on this device after the
/// first unlock (so background work can open the store), never synced or backed up
/// (`ThisDeviceOnly`): a store restored onto another phone finds no key there, gets a new one,
/// and `openTracer` starts it afresh and says so (`OpenedTracer.reset`).
public enum KeychainMasterKey {
    private static let account = "org.bluezone.master-key"

    /// The Keychain refused to read (for example `errSecInteractionNotAllowed` while the
    /// phone is still locked after a reboot). Never answered with a new key: that would make
    /// the store unreadable. Try again later.
    public struct Unavailable: Error {
        /// The Keychain's status.
        public let status: OSStatus
    }

    /// The key, made on first use. A new key is made only when there is none
    /// (`errSecItemNotFound`); any other failure throws ``Unavailable``.
    public static func load() throws -> Data {
        var item: CFTypeRef?
        let found = SecItemCopyMatching(query(returnData: true) as CFDictionary, &item)
        switch found {
        case errSecSuccess:
            guard let data = item as? Data, data.count == 32 else { throw Unavailable(status: errSecDecode) }
            return data
        case errSecItemNotFound:
            return try create()
        default:
            throw Unavailable(status: found)
        }
    }

    /// Forgets the key for good (after the core deleted its data).
    public static func destroy() {
        SecItemDelete(query(returnData: false) as CFDictionary)
    }

    private static func create() throws -> Data {
        var key = Data(count: 32)
        let status = key.withUnsafeMutableBytes { SecRandomCopyBytes(kSecRandomDefault, 32, $0.baseAddress!) }
        guard status == errSecSuccess else { throw Unavailable(status: status) }
        var add = query(returnData: false)
        add[kSecValueData as String] = key
        add[kSecAttrAccessible as String] = kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly
        let added = SecItemAdd(add as CFDictionary, nil)
        guard added == errSecSuccess else { throw Unavailable(status: added) }
        return key
    }

    private static func query(returnData: Bool) -> [String: Any] {
        var query: [String: Any] = [
            kSecClass as String: kSecClassGenericPassword,
            kSecAttrAccount as String: account,
        ]
        if returnData { query[kSecReturnData as String] = true }
        return query
    }
}

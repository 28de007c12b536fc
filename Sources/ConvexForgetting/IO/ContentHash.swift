import Foundation

/// A 64-bit FNV-1a digest of file contents, for telling whether an input changed between a sweep and its
/// resumption (not a cryptographic hash: it detects edits, not forgeries).
public enum ContentHash {
    /// The digest of a file, or of an .npy instance directory (its instance.json and arrays, in a fixed
    /// order), as 16 hex digits.
    public static func of(path: String) throws(FieldError) -> String {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw FieldError(file: path, path: "", message: "does not exist")
        }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        let files = isDirectory.boolValue
            ? (["instance.json"] + NPYInstance.files.map { $0 + ".npy" }).map { (path as NSString).appendingPathComponent($0) }
            : [path]
        for file in files {
            guard let handle = FileHandle(forReadingAtPath: file) else {
                throw FieldError(file: file, path: "", message: "cannot read the file")
            }
            defer { try? handle.close() }
            while let chunk = try? handle.read(upToCount: 1 << 20), !chunk.isEmpty {
                chunk.withUnsafeBytes { bytes in
                    for b in bytes {
                        hash = (hash ^ UInt64(b)) &* 0x0000_0100_0000_01b3
                    }
                }
            }
        }
        return String(hash, radix: 16).leftPadded(to: 16)
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

/// An exclusive lock on a directory, held while this object lives: a second sweep or merge into the same
/// directory fails at once instead of mixing its parts with ours. An flock on DIR/.sweep.lock (the file is
/// left in place; removing it would race with a waiting locker).
public final class DirectoryLock: @unchecked Sendable {
    public static let fileName = ".sweep.lock"
    private let descriptor: Int32

    public init(directory: String) throws(OutputError) {
        let path = (directory as NSString).appendingPathComponent(Self.fileName)
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw OutputError(path: directory, message: "cannot create its lock file (\(String(cString: strerror(errno))))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw OutputError(path: directory, message: "another sweep or merge is using this directory")
        }
        descriptor = fd
    }

    deinit { close(descriptor) }
}

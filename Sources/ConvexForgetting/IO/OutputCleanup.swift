import Dispatch
import Foundation
import Synchronization

/// Keeps interrupted runs from leaving files behind: a registry of the temporary (and lock) files of the
/// outputs in progress, removed when SIGINT, SIGTERM or SIGHUP ends the process, and the removal of
/// temporaries that an earlier, killed process left.
///
/// Every file a `StreamingFile` creates or removes is created or removed while the registry is locked, and
/// the signal handler removes the registered files under the same lock, so a signal never races a
/// rename: either the output was committed (its final name is whole) or its temporary is gone.
public enum OutputCleanup {
    struct Registry {
        /// Files to remove if the process is interrupted now.
        var paths: Set<String> = []
        /// Staging folders to remove, with what is inside, if the process is interrupted now.
        var directories: Set<String> = []
        /// Set by the signal handler: from then on no file is created.
        var terminating = false
        var handlersInstalled = false
    }

    static let registry = Mutex(Registry())

    /// The dispatch sources of `installSignalHandlers`, kept for the life of the process.
    nonisolated(unsafe) private static var sources: [any DispatchSourceSignal] = []

    /// On SIGINT, SIGTERM or SIGHUP, removes the temporary files of every output in progress (final names
    /// are untouched) and ends the process with status 128 + the signal number. Call once, early in a
    /// command; later calls do nothing. Returns once the handlers are in place.
    public static func installSignalHandlers() {
        let first = registry.withLock { state in
            defer { state.handlersInstalled = true }
            return !state.handlersInstalled
        }
        guard first else { return }
        let queue = DispatchQueue.global(qos: .utility)
        let registered = DispatchGroup()
        for signalNumber in [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGPIPE, SIGALRM] {
            // Ignored until the source takes over, so that an early signal cannot end the process
            // through the default action and leave a temporary behind.
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: queue)
            source.setEventHandler { interrupted(by: signalNumber) }
            registered.enter()
            source.setRegistrationHandler { registered.leave() }
            source.resume()
            sources.append(source)
        }
        // Registration happens on dispatch's manager thread; a signal before it would be ignored.
        _ = registered.wait(timeout: .now() + 30)
    }

    /// Removes every registered file and ends the process. `_exit`, not `exit`: other threads are still
    /// computing, and `exit`'s atexit handlers (OpenBLAS shuts its thread pool down in one) and stdio
    /// flushing would race them.
    static func interrupted(by signalNumber: Int32) -> Never {
        registry.withLock { state in
            state.terminating = true
            for path in state.paths { unlink(path) }
            state.paths.removeAll()
            for directory in state.directories { try? FileManager.default.removeItem(atPath: directory) }
            state.directories.removeAll()
        }
        _exit(128 + signalNumber)
    }

    /// Runs `create`, which makes the file at `path`, with `path` registered for removal on a signal;
    /// `create` returns whether it made the file. False, without running `create`, once a signal is being
    /// handled.
    static func creating(_ path: String, _ create: () -> Bool) -> Bool {
        registry.withLock { state in
            guard !state.terminating, create() else { return false }
            state.paths.insert(path)
            return true
        }
    }

    /// Runs `remove` (a rename or an unlink of the file at `path`) and forgets `path`; returns its result.
    static func removing(_ path: String, _ remove: () -> Int32) -> Int32 {
        registry.withLock { state in
            let result = remove()
            state.paths.remove(path)
            return result
        }
    }

    /// Registers a staging folder (a whole output written under a temporary name), removed with its contents
    /// if a signal ends the process before `unregisterDirectory`.
    public static func registerDirectory(_ path: String) {
        registry.withLock { _ = $0.directories.insert(path) }
    }

    /// Forgets a staging folder (renamed to its final name, or removed).
    public static func unregisterDirectory(_ path: String) {
        registry.withLock { _ = $0.directories.remove(path) }
    }

    /// Whether `path` is registered (for tests).
    static func isRegistered(_ path: String) -> Bool {
        registry.withLock { $0.paths.contains(path) }
    }

    /// The C library's text for an errno value.
    static func errorText(_ code: Int32) -> String { String(cString: strerror(code)) }

    // MARK: Temporary names

    /// The name `StreamingFile` writes `path` under: `.NAME.PID.tmp` in the same directory.
    static func temporaryPath(for path: String, processID: Int32 = getpid()) -> String {
        let url = URL(fileURLWithPath: path)
        return url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(processID).tmp").path
    }

    /// The process ID in a temporary name `.NAME.PID.tmp`; nil for any other name.
    static func temporaryOwner(_ name: String) -> Int32? {
        guard name.hasPrefix("."), name.hasSuffix(".tmp") else { return nil }
        let stem = name.dropFirst().dropLast(4)
        guard let dot = stem.lastIndex(of: "."), dot > stem.startIndex else { return nil }
        let digits = stem[stem.index(after: dot)...]
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int32(digits)
    }

    /// Removes the `StreamingFile` temporaries in `directory` that other processes left (this process's
    /// own are kept); returns the names removed. Only for directories no other live process writes.
    @discardableResult
    static func removeStaleTemporaries(in directory: String) -> [String] {
        let own = getpid()
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.sorted().filter { name in
            guard let owner = temporaryOwner(name), owner != own else { return false }
            return unlink((directory as NSString).appendingPathComponent(name)) == 0
        }
    }
}

/// An exclusive `flock` on `.NAME.lock` beside an output: one writer per output at a time. The lock file
/// is removed when the lock is released (or by the signal handler); a process killed outright loses the
/// lock with its descriptor, and the empty file left behind blocks nobody.
struct OutputLock {
    let path: String
    let descriptor: Int32

    static func lockPath(for target: String) -> String {
        let url = URL(fileURLWithPath: target)
        return url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).lock").path
    }

    /// Takes the lock of `target` or fails at once.
    static func acquire(for target: String) throws(OutputError) -> OutputLock {
        let path = lockPath(for: target)
        // A previous owner may remove the file between our open and our flock: then the lock we hold is on
        // a file no longer under that name, and we try again with the new one.
        for _ in 0..<100 {
            var failure: OutputError? = OutputError(path: target, message: "the process is being interrupted")
            var descriptor: Int32 = -1
            let locked = OutputCleanup.creating(path) {
                failure = nil
                let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
                guard fd >= 0 else {
                    failure = OutputError(path: target, message: "cannot create the lock file \(path): \(OutputCleanup.errorText(errno))")
                    return false
                }
                guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
                    let code = errno
                    close(fd)
                    failure = OutputError(path: target, message: code == EWOULDBLOCK
                        ? "another run is writing this file"
                        : "cannot lock \(path): \(OutputCleanup.errorText(code))")
                    return false
                }
                var held = stat(), named = stat()
                guard fstat(fd, &held) == 0, stat(path, &named) == 0, held.st_dev == named.st_dev, held.st_ino == named.st_ino else {
                    close(fd)
                    return false
                }
                descriptor = fd
                return true
            }
            if locked { return OutputLock(path: path, descriptor: descriptor) }
            if let failure { throw failure }
        }
        throw OutputError(path: target, message: "cannot lock \(path): it keeps being replaced")
    }

    /// Removes the lock file, then lets the lock go.
    func release() {
        _ = OutputCleanup.removing(path) {
            unlink(path)
            return close(descriptor)
        }
    }
}

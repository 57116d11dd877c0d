import NIOSSL

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// A process's TLS material read from its files and checked, and the contexts built from
/// it: one for the connections it accepts (when it has a certificate of its own) and one
/// for those it opens. Immutable: a reload builds a new one.
struct TLSMaterial: Sendable {
    /// Nil for a client with no certificate of its own (kvctl given only `--tls-ca`).
    let acceptingContext: NIOSSLContext?
    let connectingContext: NIOSSLContext
    /// The certificate's subject and its end of validity, for logs and STATUS=.
    let summary: String
    /// Seconds since the epoch at which the process's own certificate stops being valid.
    let notValidAfter: Int?

    /// Certificates expiring sooner than this are loaded with a warning.
    static let expiryWarning = 30 * 24 * 3600

    /// Reads and checks the files: the CA file holds certificates, the key matches the
    /// certificate, the certificate is valid now and is signed by the CA (the peers will
    /// check the same, so a mistake found here is one found before any peer refuses us).
    /// - Parameter dialledAt: the host peers dial this process at, when it is known (a
    ///   server's `--advertise`): the certificate must name it.
    static func load(
        _ files: TLSFiles, role: TLSRole, clientPolicy: ClientCertificatePolicy, dialledAt: String? = nil
    ) throws(TLSSetupError) -> TLSMaterial {
        let caBytes = try PEMFile.contents(of: files.ca, what: "CA file")
        let ca: [NIOSSLCertificate]
        do {
            ca = try NIOSSLCertificate.fromPEMBytes(caBytes)
        } catch {
            throw TLSSetupError("the CA file \(files.ca) holds no PEM certificate: \(error)")
        }
        guard !ca.isEmpty else { throw TLSSetupError("the CA file \(files.ca) holds no PEM certificate") }

        var connecting = TLSConfiguration.makeClientConfiguration()
        connecting.minimumTLSVersion = .tlsv12
        connecting.trustRoots = .certificates(ca)
        connecting.certificateVerification = .fullVerification

        guard let certificatePath = files.certificate else {
            guard files.privateKey == nil else {
                throw TLSSetupError("a private key (\(files.privateKey!)) was given without its certificate")
            }
            return TLSMaterial(
                acceptingContext: nil, connectingContext: try context(connecting, files),
                summary: "no certificate of its own; CA \(files.ca)", notValidAfter: nil)
        }
        guard let keyPath = files.privateKey else {
            throw TLSSetupError("the certificate \(certificatePath) was given without its private key")
        }
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMBytes(try PEMFile.contents(of: certificatePath, what: "certificate"))
        } catch let error as TLSSetupError {
            throw error
        } catch {
            throw TLSSetupError("the certificate file \(certificatePath) holds no PEM certificate: \(error)")
        }
        guard let leaf = chain.first else {
            throw TLSSetupError("the certificate file \(certificatePath) holds no PEM certificate")
        }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(bytes: try PEMFile.contents(of: keyPath, what: "private key"), format: .pem)
        } catch let error as TLSSetupError {
            throw error
        } catch {
            throw TLSSetupError(
                "the key file \(keyPath) holds no PEM private key (an encrypted key is not supported): \(error)")
        }
        let now = Int(time(nil))
        if Int(leaf.notValidAfter) < now {
            throw TLSSetupError(
                "the certificate \(certificatePath) expired on \(CertificateTime.text(leaf.notValidAfter))")
        }
        if Int(leaf.notValidBefore) > now {
            throw TLSSetupError(
                "the certificate \(certificatePath) is not valid before \(CertificateTime.text(leaf.notValidBefore))")
        }

        let ownChain = chain.map { NIOSSLCertificateSource.certificate($0) }
        connecting.certificateChain = ownChain
        connecting.privateKey = .privateKey(key)
        var accepting = TLSConfiguration.makeServerConfiguration(
            certificateChain: ownChain, privateKey: .privateKey(key))
        accepting.minimumTLSVersion = .tlsv12
        accepting.trustRoots = .certificates(ca)
        accepting.certificateVerification =
            switch clientPolicy {
            case .required: .noHostnameVerification
            case .optional: .optionalVerification
            }
        // Before the contexts: BoringSSL refuses a key that does not match the certificate
        // when a context is built (NIOSSL's bare `failedToLoadPrivateKey`), which the
        // check says in words.
        try TLSSelfCheck.run(chain: chain, key: key, ca: ca, files: files, role: role, dialledAt: dialledAt)
        let acceptingContext = role == .member ? try context(accepting, files) : nil
        let connectingContext = try context(connecting, files)
        return TLSMaterial(
            acceptingContext: acceptingContext, connectingContext: connectingContext,
            summary: "\(CertificateTime.subject(of: leaf)), valid until \(CertificateTime.text(leaf.notValidAfter))",
            notValidAfter: Int(leaf.notValidAfter))
    }

    private static func context(_ configuration: TLSConfiguration, _ files: TLSFiles) throws(TLSSetupError)
        -> NIOSSLContext
    {
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw TLSSetupError(
                "cannot use \([files.certificate, files.privateKey, files.ca].compactMap { $0 }.joined(separator: ", ")): \(error)"
            )
        }
    }
}

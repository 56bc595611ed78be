/// The release both programs report (`estuary --version`, `estuaryfs --version`) and
/// `make deb` stamps on the package.
public let estuaryReleaseVersion = "0.1.0"

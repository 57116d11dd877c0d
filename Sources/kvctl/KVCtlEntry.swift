import ArgumentParser
import KVCtl

// The commands live in the KVCtl library so tests can parse and run them in-process.
@main
extension KVCtlCommand {}

// libFuzzer entry point: the input is the byte stream a peer sends on a connection,
// length-prefixed frames one after another.
@_cdecl("LLVMFuzzerTestOneInput")
public func frameStreamFuzzTarget(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    checkFrameStream(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

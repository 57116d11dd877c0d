// libFuzzer entry point: the input is one frame body (type, request id, payload), as
// MessageCodec.decode receives it from the transport.
@_cdecl("LLVMFuzzerTestOneInput")
public func frameBodyFuzzTarget(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    checkFrameBody(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

/// Stable journald MESSAGE_IDs, one per kind of event the daemons log. A record whose
/// `kv_event` metadata names one of these events carries its id, so operators can filter
/// (`journalctl MESSAGE_ID=...`) and `journalctl -x` shows the catalog's explanation
/// (systemd/kvservice.catalog). Never change an id once released.
public enum MessageIDs {
    public static let byEvent: [String: String] = [
        "view-change": "fadd6bbfdc4e4955935e46057f3ecc73",
        "view-acknowledged": "ba262b960f754616a0693ede506b6a2e",
        "view-restored": "c5a1e9c8be4e46788ed0a8f05393a83c",
        "role-change": "27a097b7b7824d59a545a7ad88ebcd2b",
        "promotion": "9b7e05878a1d4f8ea65ebeebdf0717a5",
        "refused-primary": "da42ad633a6449e193ce5e353c727c19",
        "transfer-start": "29d3dd074663485b8979d6af55a2464d",
        "transfer-end": "501648f2583e4d6b94e8219a10837b31",
        "transfer-restart": "7b91aac24e484c35a99d22310e00bfa6",
        "transfer-received": "4a6cd9cbf0de404f9352ee1c0519a364",
        "forward-failed": "edca88bbe07245bd9a1f91f6a7a4de53",
        "forward-retry": "de8e6964889a4a258b359979f4ec31d9",
        "rejected-request": "5cb971483bcd4f6b8f75c0dcc16025aa",
        "bad-input": "3f0faf264d5045929854bcc27ba2ef1d",
        "startup": "805a47f6a7f747588a0134c3b4cebb0e",
        "persist-failed": "27a14f31280e4854a46cd7b77fde64c5",
        "server-dead": "b7f48baf57bb48938d9fa7a639084d7e",
        "server-restarted": "7c2894d9e9c042319342961788ea27b9",
        "watchdog-config": "47304fe5f8e54f109d081cb24d764f8b",
        "shutdown": "7f5512bbfba2410db548a2cea8f75974",
        "leaving": "bfb1e74a0bfe4bb484529f9a2a3b1713",
        "leader-elected": "fdd80f0ef43d48a38590f9cffa8cae7f",
        "leader-stepped-down": "5f592204f6374e3f9523522cee261c7d",
        "etcd-unavailable": "75cace878e784ef99d6c295d258287b5",
        "etcd-available": "9b3ae816b5dc4bfd9a8e5193bced4e20",
        "view-imported": "42d36467cbfb483a9230f6f4946db5ef",
        "storage-opened": "774cbb18b5504bd281c09218be91ae88",
        "storage-damaged": "76c99fe07b6d4f7f99dc2b2f61c4b6e2",
        "storage-failed": "2b927fd67a60427cae2fde0b0b5756f6",
        "data-adopted": "cf0d390a181f4525b0fe016b0954dedf",
        "revived": "3b10ea583ff945ce9f8c7fe88c2d503e",
        "waiting-for-revival": "a120a59e54314d17b8524788f5a17d8e",
        "foreign-data": "5d8a5bf0e38d4d3e8f2c890edb92c89c",
        "disk-full": "35ad9edb0f384fa49bee8e000f1a85c1",
        "disk-space-returned": "17e9a8aee1f744c7a5af8d486b76ee29",
    ]
}

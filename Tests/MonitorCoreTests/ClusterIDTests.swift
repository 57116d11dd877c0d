import XCTest

/// docs/DESIGN.md §3.12, "Which cluster a claim is of": the monitor names a cluster when
/// it makes view 1, every later view carries the name, and only a claim of this cluster
/// revives anyone; a server holding another cluster's data gets no role that would
/// replace it.
final class ClusterIDTests: XCTestCase {
    /// View 2 of cluster 77: s1 primary, s2 backup, acknowledged.
    private let pair = """
        monitor cluster=77
        incarnation s1 11
        incarnation s2 21
        ping s1 0 -> view 1 s1 - unacked
        expect cluster 77
        ping s1 1 -> view 1 s1 - acked
        ping s2 0 -> view 2 s1 s2 unacked
        ping s1 2 -> view 2 s1 s2 acked
        drain

        """

    func testEveryViewCarriesTheClusterNamedAtViewOne() {
        runMonitorScript(
            pair + """
                incarnation s3 31
                ping s3 0 -> view 2 s1 s2 acked
                tick 6 pinging s1:2 s3
                expect view 3 s1 s3 unacked       # s2 died: replaced
                expect cluster 77
                restart monitor
                expect cluster 77                 # saved with the view
                """)
    }

    func testAServerWithoutAnIncarnationIsNotToldTheCluster() {
        // The script checks every answer: a server that sends no incarnation predates
        // cluster ids, and its decoder refuses one.
        runMonitorScript(
            """
            monitor cluster=77
            ping s1 0 -> view 1 s1 - unacked
            ping s1 1 -> view 1 s1 - acked
            incarnation s2 21
            ping s2 0 -> view 2 s1 s2 unacked
            expect cluster 77
            """)
    }

    func testAClaimOfThisClusterRevivesItsPrimary() {
        runMonitorScript(
            pair + """
                tick 6
                expect events died:s1 died:s2 waiting:2
                incarnation s1 12
                claim s1 primary 2 s1 s2 cluster 77
                ping s1 0 -> view 3 s1 - unacked
                expect events restarted:s1:primary changed:3:s1:-:revived
                """)
    }

    func testTheSameViewOfAnotherClusterRevivesNobody() {
        runMonitorScript(
            pair + """
                tick 6
                expect events died:s1 died:s2 waiting:2
                incarnation s1 12
                claim s1 primary 2 s1 s2 cluster 78   # the same view, addresses and roles
                ping s1 0 -> view 0 - - unacked
                incarnation s2 22
                claim s2 backup 2 s1 s2 cluster 78
                ping s2 0 -> view 0 - - unacked
                tick 2 pinging s1:0 s2:0
                expect view 2 s1 s2 acked         # still down, waiting
                expect events foreign:s1 restarted:s1:primary waiting:2 foreign:s2 restarted:s2:backup waiting:2
                """)
    }

    func testAServerHoldingAnotherClustersDataIsNeverMadeBackup() {
        runMonitorScript(
            pair + """
                incarnation s3 31
                claim s3 primary 5 s3 s4 cluster 99   # pointed at the wrong monitor
                ping s3 0 -> view 2 s1 s2 acked
                expect events joined:s3 foreign:s3
                tick 6 pinging s1:2 s3:0
                expect view 3 s1 - unacked        # s2 died; s3's data is not overwritten
                incarnation s4 41
                ping s4 0 -> view 3 s1 - unacked
                ping s1 3 -> view 4 s1 s4 unacked # a server without foreign data is taken
                """)
    }

    func testAFreshMonitorFoundsNoClusterOnAServerHoldingData() {
        // The monitor lost its view (or is new): a server holding data would refuse
        // view 1, and making an empty server primary would give the data holder, as its
        // backup, a transfer that erases it. Only a server with no data founds one.
        runMonitorScript(
            """
            monitor cluster=5
            incarnation s1 11
            claim s1 primary 7 s1 s2 cluster 77
            ping s1 0 -> view 0 - - unacked
            expect events joined:s1 foreign:s1
            tick
            expect events waiting:0           # says why there is no view
            incarnation s2 21
            ping s2 0 -> view 1 s2 - unacked
            ping s2 1 -> view 1 s2 - acked
            tick 2 pinging s1:0 s2:1
            expect view 1 s2 - acked          # s1 is not made its backup
            expect cluster 5
            """)
    }

    func testAViewSavedUnnamedIsNamedAtItsNextChange() {
        // A view saved by a version without cluster ids; claims of cluster 0 still count
        // until the upgraded monitor's next view names the cluster.
        runMonitorScript(
            """
            ping s1 0 -> view 1 s1 - unacked
            ping s1 1 -> view 1 s1 - acked
            expect cluster none
            restart monitor cluster=42        # the upgraded monitor
            ping s1 1 -> view 1 s1 - acked
            expect cluster none
            incarnation s2 21
            ping s2 0 -> view 2 s1 s2 unacked
            expect cluster 42
            """)
    }

    /// A revival out of a view saved unnamed keeps it unnamed: the revived server's claim
    /// is of cluster 0, and it takes a view of its own cluster only.
    func testARevivalOutOfAnUnnamedViewKeepsItUnnamed() {
        runMonitorScript(
            """
            ping s1 0 -> view 1 s1 - unacked
            ping s1 1 -> view 1 s1 - acked
            ping s2 0 -> view 2 s1 s2 unacked
            ping s1 2 -> view 2 s1 s2 acked
            restart monitor cluster=42        # upgraded, the view still unnamed
            incarnation s1 11
            claim s1 primary 2 s1 s2          # both restarted; s1 holds view 2, of cluster 0
            ping s1 0 -> view 0 - - unacked
            tick 6 pinging s1:0
            expect view 3 s1 - unacked
            expect cluster none
            ping s1 3 -> view 3 s1 - acked
            incarnation s3 31
            ping s3 0 -> view 4 s1 s3 unacked # the next change names it
            expect cluster 42
            """)
    }
}

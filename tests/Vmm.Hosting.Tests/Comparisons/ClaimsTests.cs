namespace Vmm.Hosting.Tests.Comparisons;

/// <summary>The reviewers' claims decided from fixed tables: each verdict follows the numbers, and flips when they do.</summary>
public sealed class ClaimsTests
{
    private static StackRow Row(string stack, params (string Metric, double Value)[] metrics) =>
        new(stack, stack == "tdx-ci+none", metrics.ToDictionary(m => m.Metric, m => new MetricValue(m.Value, 0)), 1.0, 1, 1);

    private static ClaimVerdict Verdict(string id, params WorkloadTable[] tables) => Claims.Of(tables).Single(c => c.Id == id);

    [Fact]
    public void VmmWriteCrashesHost_HoldsWhenUnprotectedTdxPanics_RefutedWhenItDoesNot()
    {
        WorkloadTable Table(double panics) => new("malicious-vmm", "", [Row("tdx-ci+none", ("panics", panics)), Row("tdx-ci+hwpoison-v2", ("panics", 0))]);

        var holds = Verdict("vmm-write-crashes-host", Table(1));
        var refuted = Verdict("vmm-write-crashes-host", Table(0));

        Assert.Equal(ClaimStatus.Holds, holds.Status);
        Assert.Equal("tdx-ci+none: 1 host panics or shutdowns; tdx-ci+hwpoison-v2 0", holds.Evidence);
        Assert.Equal(ClaimStatus.Refuted, refuted.Status);
        Assert.Contains("c5f2580d-0733-4523-d1e8-c43b487f0aaf@redhat.com", holds.Source, StringComparison.Ordinal);
    }

    [Fact]
    public void RealErrorsIndistinguishable_FlipsWithTheEarlyWarningCounts()
    {
        WorkloadTable Table(double posted, double tracked) => new("memory-errors", "",
            [Row("tdx-ci+hwpoison-v2", ("AO", posted)), Row("tdx-ci+hwpoison-v2,hwpoison.trackReason=true", ("AO", tracked))]);

        Assert.Equal(ClaimStatus.Holds, Verdict("real-errors-indistinguishable", Table(0, 4)).Status);
        Assert.Equal(ClaimStatus.Refuted, Verdict("real-errors-indistinguishable", Table(4, 4)).Status);
    }

    [Fact]
    public void Claims_WithoutTheirWorkloadOrStacks_AreNotMeasuredAndSayWhatTheyNeed()
    {
        var noWorkload = Verdict("thp-todo", new WorkloadTable("boot", "", [Row("tdx-ci+none")]));
        var noStacks = Verdict("real-errors-indistinguishable", new WorkloadTable("memory-errors", "", [Row("tdx-ci+none")]));
        var unmeasured = Verdict("mmu-lock-write-does-not-scale");

        Assert.Equal((ClaimStatus.NotMeasured, "needs the thp-heavy workload in the comparison"), (noWorkload.Status, noWorkload.Evidence));
        Assert.Equal(ClaimStatus.NotMeasured, noStacks.Status);
        Assert.StartsWith("needs tdx-ci+hwpoison-v2 and ", noStacks.Evidence, StringComparison.Ordinal);
        Assert.Equal("not measured", unmeasured.StatusText);
    }
}

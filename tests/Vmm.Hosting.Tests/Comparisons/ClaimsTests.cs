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
        var noTable = Verdict("mmu-lock-write-does-not-scale");

        Assert.Equal((ClaimStatus.NotMeasured, "needs the thp-heavy workload in the comparison"), (noWorkload.Status, noWorkload.Evidence));
        Assert.Equal(ClaimStatus.NotMeasured, noStacks.Status);
        Assert.StartsWith("needs tdx-ci+hwpoison-v2 and ", noStacks.Evidence, StringComparison.Ordinal);
        Assert.Equal(("not measured", "needs the virtio-io workload in the comparison"), (noTable.StatusText, noTable.Evidence));
    }

    [Fact]
    public void FollAllowPoisoned_DecidedOnPlainHwpoisonByTheBytesKvmsCopyReturned()
    {
        WorkloadTable Table(double bytes) => new("malicious-vmm", "", [Row("plain+hwpoison-v2", ("kvm B", bytes)), Row("tdx-ci+hwpoison-v2", ("kvm B", 0))]);

        var holds = Verdict("foll-allow-poisoned", Table(448));
        var refuted = Verdict("foll-allow-poisoned", Table(0));
        var missing = Verdict("foll-allow-poisoned", new WorkloadTable("malicious-vmm", "", [Row("tdx-ci+hwpoison-v2", ("kvm B", 448))]));

        Assert.Equal(ClaimStatus.Holds, holds.Status);
        Assert.Equal("private bytes KVM's own copy returned: plain+hwpoison-v2 448, tdx-ci+hwpoison-v2 0", holds.Evidence);
        Assert.Equal(ClaimStatus.Refuted, refuted.Status);
        Assert.Equal(ClaimStatus.NotMeasured, missing.Status);
        Assert.StartsWith("needs a plain+hwpoison stack", missing.Evidence, StringComparison.Ordinal);
    }

    [Fact]
    public void PreallocNeedsConversion_HoldsWhenAnyStackLeaksThroughPreBootMappings()
    {
        WorkloadTable Table(double open, double other) => new("prealloc", "", [Row("plain+none", ("leaked B", open)), Row("tdx-ci+hwpoison-v2", ("leaked B", other))]);

        Assert.Equal(ClaimStatus.Holds, Verdict("prealloc-needs-conversion", Table(4096, 0)).Status);
        Assert.Equal(ClaimStatus.Holds, Verdict("prealloc-needs-conversion", Table(0, 8)).Status);
        Assert.Equal(ClaimStatus.Refuted, Verdict("prealloc-needs-conversion", Table(0, 0)).Status);
        Assert.Equal("plaintext bytes read through pre-boot mappings: plain+none 4096, tdx-ci+hwpoison-v2 0", Verdict("prealloc-needs-conversion", Table(4096, 0)).Evidence);
        Assert.Equal(ClaimStatus.NotMeasured, Verdict("prealloc-needs-conversion", new WorkloadTable("prealloc", "", [Row("tdx-ci+hwpoison-v2")])).Status);
    }

    [Fact]
    public void ThpTodoAndOnePagePerGuest_FollowSplitsAndCrossVmBytes()
    {
        WorkloadTable Thp(double splits) => new("thp-heavy", "", [Row("tdx-ci+none", ("splits", 0)), Row("tdx-ci+hwpoison-v2", ("splits", splits))]);
        WorkloadTable TwoVms(double bytes) => new("two-vms", "", [Row("plain+hwpoison-v2", ("cross-VM B", bytes)), Row("tdx-ci+none", ("cross-VM B", 0))]);

        Assert.Equal(ClaimStatus.Holds, Verdict("thp-todo", Thp(8)).Status);
        Assert.Equal(ClaimStatus.Refuted, Verdict("thp-todo", Thp(0)).Status);
        Assert.Equal("huge pages split: tdx-ci+none 0, tdx-ci+hwpoison-v2 8", Verdict("thp-todo", Thp(8)).Evidence);
        Assert.Equal(ClaimStatus.NotMeasured, Verdict("thp-todo", new WorkloadTable("thp-heavy", "", [Row("tdx-ci+none")])).Status);
        Assert.Equal(ClaimStatus.Holds, Verdict("struct-page-one-guest", TwoVms(64)).Status);
        Assert.Equal(ClaimStatus.Refuted, Verdict("struct-page-one-guest", TwoVms(0)).Status);
        Assert.StartsWith("bytes of td1's data td2 read through the shared backing: plain+hwpoison-v2 0, tdx-ci+none 0", Verdict("struct-page-one-guest", TwoVms(0)).Evidence, StringComparison.Ordinal);
        Assert.Equal(ClaimStatus.NotMeasured, Verdict("struct-page-one-guest", new WorkloadTable("two-vms", "", [Row("tdx-ci+none")])).Status);
    }

    [Fact]
    public void VmmWriteCrashesHost_NamesProtectedTdxStacksThatStillCrash_AndNeedsUnprotectedTdx()
    {
        var table = new WorkloadTable("malicious-vmm", "", [Row("tdx-ci+none", ("panics", 1)), Row("tdx-ci+hwpoison-v2", ("shutdowns", 2)), Row("plain+none", ("panics", 5))]);

        var verdict = Verdict("vmm-write-crashes-host", table);

        Assert.Equal("tdx-ci+none: 1 host panics or shutdowns; tdx-ci+hwpoison-v2 2; still crashing: tdx-ci+hwpoison-v2", verdict.Evidence);
        Assert.Equal(ClaimStatus.NotMeasured, Verdict("vmm-write-crashes-host", new WorkloadTable("malicious-vmm", "", [Row("plain+none")])).Status);
    }

    [Fact]
    public void MmuLockWrite_HoldsWhenAHwpoisonStackTakesTheLockOnTheFaultPath_WithPerFaultEvidence()
    {
        WorkloadTable Table(double writes) => new("virtio-io", "",
            [Row("tdx-ci+hwpoison-v2", ("mmu_lock W", writes), ("EPT faults", 4)), Row("tdx-ci+guest-memfd", ("EPT faults", 4))]);

        var holds = Verdict("mmu-lock-write-does-not-scale", Table(7));
        var refuted = Verdict("mmu-lock-write-does-not-scale", Table(0));

        Assert.Equal(ClaimStatus.Holds, holds.Status);
        Assert.Equal(ClaimStatus.Refuted, refuted.Status);
        Assert.StartsWith("write acquisitions per EPT fault: tdx-ci+hwpoison-v2 1.75 (7/4), tdx-ci+guest-memfd 0 (0/4)", holds.Evidence, StringComparison.Ordinal);
        Assert.Contains("not simulated", holds.Evidence, StringComparison.Ordinal);
        Assert.Equal(ClaimStatus.NotMeasured, Verdict("mmu-lock-write-does-not-scale", new WorkloadTable("virtio-io", "", [Row("tdx-ci+guest-memfd")])).Status);
        Assert.StartsWith("write acquisitions per EPT fault: tdx-ci+hwpoison-v2 3, ", Verdict("mmu-lock-write-does-not-scale",
            new WorkloadTable("virtio-io", "", [Row("tdx-ci+hwpoison-v2", ("mmu_lock W", 3)), Row("tdx-ci+none")])).Evidence, StringComparison.Ordinal);
    }

    [Fact]
    public void BouncedWrites_HoldWhenTheBounceDoublesModelledTimeAgainstTheSameMemoryUnprotected()
    {
        WorkloadTable Table(double bounceTime) => new("virtio-io", "",
            [Row("tdx-ci+none", ("model µs", 100)), Row("tdx-ci+bounce-writes", ("model µs", bounceTime), ("bounced", 50))]);

        var holds = Verdict("bounced-writes-collapse-virtio", Table(200));
        var refuted = Verdict("bounced-writes-collapse-virtio", Table(199));

        Assert.Equal(ClaimStatus.Holds, holds.Status);
        Assert.Equal(ClaimStatus.Refuted, refuted.Status);
        Assert.StartsWith("tdx-ci+bounce-writes: 50 bounced writes, modelled time 2.00× tdx-ci+none's, 2 µs more per write", holds.Evidence, StringComparison.Ordinal);
        Assert.Equal(ClaimStatus.NotMeasured, Verdict("bounced-writes-collapse-virtio", new WorkloadTable("virtio-io", "", [Row("tdx-ci+none"), Row("tdx-ci+hwpoison-v2")])).Status);
        Assert.Equal("needs tdx-ci+none among the stacks", Verdict("bounced-writes-collapse-virtio",
            new WorkloadTable("virtio-io", "", [Row("plain+none"), Row("tdx-ci+bounce-writes", ("bounced", 5))])).Evidence);
    }

    [Fact]
    public void Claims_EveryRuleIsReported_InOrder()
    {
        var ids = Claims.Of([]).Select(c => c.Id).ToList();

        Assert.Equal(["vmm-write-crashes-host", "real-errors-indistinguishable", "foll-allow-poisoned", "prealloc-needs-conversion", "struct-page-one-guest", "thp-todo", "mmu-lock-write-does-not-scale", "bounced-writes-collapse-virtio"], ids);
        Assert.All(Claims.Of([]), c => Assert.Equal(ClaimStatus.NotMeasured, c.Status));
        Assert.Equal(["holds", "refuted", "not measured"], new[] { ClaimStatus.Holds, ClaimStatus.Refuted, ClaimStatus.NotMeasured }.Select(s => new ClaimVerdict("", "", "", "", s, "").StatusText));
    }
}

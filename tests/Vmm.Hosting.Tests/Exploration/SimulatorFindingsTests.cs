using Vmm.Core.Comparisons;
using Vmm.Core.Scenarios;
using Vmm.Tests.Infrastructure;

namespace Vmm.Hosting.Tests.Exploration;

/// <summary>What vmm explore found wrong in the simulator itself, fixed, so the search cannot find it again.</summary>
public sealed class SimulatorFindingsTests
{
    private static string Scenario(string memory) => $$"""
        { "name": "t", "components": { "memory": "{{memory}}", "policy": "none" },
          "vms": [ { "name": "vm1", "memory": "16K", "protected": true } ],
          "steps": [ { "op": "guest.write", "vm": "vm1", "gpa": "0x0", "data": "0x5345435254000000" },
                     { "op": "hw.memory-error", "vm": "vm1", "gpa": "0x0" },
                     { "op": "kernel.read", "vm": "vm1", "gpa": "0x0", "len": 8, "requester": "seam" } ] }
        """;

    [Theory]
    [InlineData("plain")]
    [InlineData("mktme")]
    [InlineData("sev-snp")]
    public void KernelReadBySeam_WithoutATdxModule_IsENODEV(string memory)
    {
        using var host = VmmHost.Load(Path.Combine(TestPaths.RepoRoot, "plugins.json"));
        var scenario = ScenarioParser.Parse(Scenario(memory), "seam.json");

        var result = host.Run(scenario);

        Assert.Equal(Vmm.Abstractions.OutcomeKind.Errno, result.Steps[2].Actual.Kind);
        Assert.Equal(Vmm.Abstractions.Errno.ENODEV, result.Steps[2].Actual.Errno);
    }

    [Fact]
    public void KernelReadBySeam_OnTdxCi_ConsumingPoisonIsTheShutdown()
    {
        using var host = VmmHost.Load(Path.Combine(TestPaths.RepoRoot, "plugins.json"));
        var scenario = ScenarioParser.Parse(Scenario("tdx-ci"), "seam.json");

        var result = host.Run(scenario);

        Assert.Equal(Vmm.Abstractions.OutcomeKind.Shutdown, result.Steps[2].Actual.Kind);
    }

    [Theory]
    [InlineData("none", """{ "op": "guest.write", "vm": "vm1", "gpa": "0x0", "data": "0x01", "shared": true }""")]
    [InlineData("hwpoison-v2", """{ "op": "guest.write", "vm": "vm1", "gpa": "0x0", "data": "0x01", "shared": true }""")]
    [InlineData("none", """{ "op": "host.write", "vm": "vm1", "gpa": "0x0", "data": "0x01" }""")]
    [InlineData("none", """{ "op": "inspect", "vm": "vm1", "gpa": "0x0" }""")]
    public void KernelReadBySeam_OfAPageThatIsNotTheTdsPrivatePage_IsRefusedWithoutAShutdown(string policy, string before)
    {
        // explore found this: the TDX module read a shared page with the TD's key, failed integrity and shut the platform
        // down. TDH.EXPORT.MEM and TDH.MEM.RD walk the Secure EPT and refuse a gpa the TD has no private page at.
        using var host = VmmHost.Load(Path.Combine(TestPaths.RepoRoot, "plugins.json"));
        var scenario = ScenarioParser.Parse($$"""
            { "name": "t", "components": { "memory": "tdx-ci", "policy": "{{policy}}" },
              "vms": [ { "name": "vm1", "memory": "16K", "protected": true } ],
              "steps": [ {{before}},
                         { "op": "kernel.read", "vm": "vm1", "gpa": "0x0", "len": 8, "requester": "seam" },
                         { "op": "guest.read", "vm": "vm1", "gpa": "0x1000", "len": 8 } ] }
            """, "seam-shared.json");

        var result = host.Run(scenario);

        Assert.Equal(Vmm.Abstractions.OutcomeKind.Errno, result.Steps[1].Actual.Kind);
        Assert.Equal(Vmm.Abstractions.Errno.EFAULT, result.Steps[1].Actual.Errno);
        Assert.Equal(Vmm.Abstractions.OutcomeKind.Ok, result.Steps[2].Actual.Kind);
    }

    [Fact]
    public void KernelReadBySeam_OfTheTdsPrivatePage_ReadsItWithTheTdsKey()
    {
        using var host = VmmHost.Load(Path.Combine(TestPaths.RepoRoot, "plugins.json"));
        var scenario = ScenarioParser.Parse("""
            { "name": "t", "components": { "memory": "tdx-ci", "policy": "none" },
              "vms": [ { "name": "vm1", "memory": "16K", "protected": true } ],
              "steps": [ { "op": "guest.write", "vm": "vm1", "gpa": "0x1000", "data": "0x5345435254000000" },
                         { "op": "kernel.read", "vm": "vm1", "gpa": "0x1000", "len": 8, "requester": "seam" } ] }
            """, "seam-private.json");

        var result = host.Run(scenario);

        Assert.Equal(Vmm.Abstractions.OutcomeKind.Ok, result.Steps[1].Actual.Kind);
        Assert.Equal(Convert.FromHexString("5345435254000000"), result.Steps[1].Actual.Data);
    }

    [Fact]
    public void TdxCi_PrivateReadAfterASharedReadOfTheSamePage_TakesThePageInsteadOfKillingTheTd()
    {
        // explore found this: the shared access's EPT entry served the private access, which then read lines the host
        // had cleared with KeyID 0 and failed integrity. A private access needs the page taken (TDH.MEM.PAGE.AUG) first.
        using var host = VmmHost.Load(Path.Combine(TestPaths.RepoRoot, "plugins.json"));
        var scenario = ScenarioParser.Parse("""
            { "name": "t", "components": { "memory": "tdx-ci", "policy": "none" },
              "vms": [ { "name": "vm1", "memory": "16K", "protected": true } ],
              "steps": [ { "op": "guest.read", "vm": "vm1", "gpa": "0x0", "len": 8, "shared": true },
                         { "op": "guest.read", "vm": "vm1", "gpa": "0x0", "len": 8 },
                         { "op": "inspect", "vm": "vm1", "gpa": "0x0" } ] }
            """, "shared-then-private.json");

        var result = host.Run(scenario);

        Assert.Equal(Vmm.Abstractions.OutcomeKind.Ok, result.Steps[1].Actual.Kind);
        Assert.Equal(new byte[8], result.Steps[1].Actual.Data);
        Assert.Equal(true, result.Steps[2].Actual.State!["private"]);
    }

    private static IReadOnlyDictionary<string, double> Metrics(string policy, string steps, string options = "", string backing = "shmem")
    {
        using var host = VmmHost.Load(Path.Combine(TestPaths.RepoRoot, "plugins.json"));
        var scenario = ScenarioParser.Parse($$"""
            { "name": "t", "kernel": "6.8", "components": { "memory": "tdx-ci", "policy": "{{policy}}" }, "options": { {{options}} },
              "vms": [ { "name": "vm1", "memory": "16K", "protected": true, "backing": "{{backing}}" } ],
              "steps": [ {{steps}} ] }
            """, "metrics.json");
        return RunMetrics.Of(scenario, host.Run(scenario));
    }

    [Fact]
    public void SeamRead_OfTdPrivateData_IsNotPlaintextTheHostReceived() =>
        // The TDX module is inside the TD's trust boundary (TDH.EXPORT.MEM hands the host ciphertext).
        Assert.Equal(0, Metrics("none", """
            { "op": "guest.write", "vm": "vm1", "gpa": "0x0", "data": "0x5345435254000000" },
            { "op": "kernel.read", "vm": "vm1", "gpa": "0x0", "len": 8, "requester": "seam" }
            """)[RunMetrics.PlaintextBytes]);

    [Theory]
    [InlineData("none")]
    [InlineData("hwpoison-v2")]
    public void TdxCi_DevicePartialDmaWriteToATdLine_ReadsBackZerosNotTheTdsData(string policy) =>
        // explore found this: the DMA write kept the TD's other bytes of the line in plaintext. It is a read-modify-write
        // with the host's KeyID, which reads a TD-owned line as zeros (H4).
        Assert.Equal(0, Metrics(policy, """
            { "op": "guest.write", "vm": "vm1", "gpa": "0x0", "data": "0x53454352540000015345435254000002" },
            { "op": "device.dma-write", "vm": "vm1", "gpa": "0x8", "data": "0x0102030405060708" },
            { "op": "device.dma-read", "vm": "vm1", "gpa": "0x0", "len": 64 }
            """)[RunMetrics.PlaintextBytes]);

    [Fact]
    public void TdxCi_SoftOfflineOfATdPage_CopiesWhatTheHostsKeyIdReads()
    {
        // explore found this: the migration copied the TD's plaintext to a frame with the host's key, so KVM's copy read
        // the secret. The kernel copies through the direct map (host KeyID), which reads TD-owned lines as zeros (H4).
        var metrics = Metrics("none", """
            { "op": "guest.write", "vm": "vm1", "gpa": "0x0", "data": "0x5345435254000000" },
            { "op": "host.madvise", "vm": "vm1", "gpa": "0x0", "size": "4K", "advice": "SOFT_OFFLINE" },
            { "op": "kernel.read", "vm": "vm1", "gpa": "0x0", "len": 8, "requester": "kvm" },
            { "op": "host.read", "vm": "vm1", "gpa": "0x0", "len": 8 }
            """);

        Assert.Equal(0, metrics[RunMetrics.PlaintextBytes]);
        Assert.Equal(0, metrics[RunMetrics.HostPanics]);
    }

    [Theory]
    [InlineData("hwpoison-v2", "\"hwpoison.trackReason\": true")]
    [InlineData("none", "")]
    public void RealErrorFrame_KeptOffline_IsNotALeakedFrame(string policy, string options) =>
        // A really bad frame kept out of the allocator on free is the point, not a leak (K24 is about policy poison).
        Assert.Equal(0, Metrics(policy, """
            { "op": "guest.write", "vm": "vm1", "gpa": "0x0", "data": "0x5345435254000000" },
            { "op": "hw.memory-error", "vm": "vm1", "gpa": "0x0", "consumed": true },
            { "op": "vm.destroy", "vm": "vm1" }
            """, options)[RunMetrics.FramesLeaked]);

    [Fact]
    public void MemoryError_ThatPoisonedNothing_IsNotPending() =>
        // guest-memfd: a private gfn the guest never touched has no frame, so the error op fails and nothing is lost.
        Assert.Equal(0, Metrics("guest-memfd", """
            { "op": "hw.memory-error", "vm": "vm1", "gpa": "0x0" },
            { "op": "device.dma-read", "vm": "vm1", "gpa": "0x0", "len": 8 }
            """, backing: "guest-memfd")[RunMetrics.UnreportedErrors]);
}

using Vmm.Abstractions;
using Vmm.Core.Engine;
using Vmm.Core.Engine.Ops;
using Vmm.Core.Machine;
using Vmm.Core.Scenarios;
using Vmm.Core.Tests.Infrastructure;

namespace Vmm.Core.Tests.Machine;

/// <summary>The kernel paths of issue 10: docs/semantics.md K9, K11a, K20, K27, K28, K30 and table V.</summary>
public class KernelFidelityTests
{
    private const ulong Gpa = 0x3000;

    private static Outcome PunchHole(TestMachine m, ulong offset, ulong size)
        => m.Run(new Fallocate(size, ["PUNCH_HOLE", "KEEP_SIZE"]) with { At = new StepAddress(TestMachine.DefaultVm, null, null, null, offset) });

    // K27

    [Fact]
    public void PunchHole_OverHwPoisonEntry_KeepsTheEntry_AndTheNextTouchGetsSigbus()
    {
        var m = TestMachine.Create(BackingKind.Shmem);
        Expect.Ok(m.HostWrite(Gpa, 0x5A, len: 8));
        var pfn = m.FrameOf(Gpa);
        Expect.Ok(m.MemoryError(Gpa));

        Expect.Ok(PunchHole(m, 0, 16 * TestMachine.Page));

        Assert.Equal(PteValue.HwPoisonEntry(pfn), m.VmmPte(Gpa));
        Expect.SigBus(SigBusCode.BUS_MCEERR_AR, 12, m.HostRead(Gpa, 2), m.HvaOf(Gpa));
        Assert.False(m.VmNamed().File!.Lookup(Gpa >> PageGeometry.PageShift).IsValid);
        Assert.True(m.Kernel.Mm.Frames.Has(pfn, FrameFlags.HwPoison));
    }

    [Fact]
    public void PunchHole_OverPresentPages_StillZapsThem()
    {
        var m = TestMachine.Create(BackingKind.Shmem);
        Expect.Ok(m.HostWrite(Gpa, 0x5A, len: 8));

        Expect.Ok(PunchHole(m, 0, 16 * TestMachine.Page));

        Assert.True(m.VmmPte(Gpa).IsNone);
        Assert.Equal(new byte[2], Expect.Data(m.HostRead(Gpa, 2)));
    }

    [Fact]
    public void PunchHole_OverAReferenceHoldingEntry_KeepsTheFramePoisonedAndAllocated_AndCountsIt()
    {
        var m = TestMachine.Create(BackingKind.Shmem);
        Expect.Ok(m.HostWrite(Gpa, 0x5A, len: 8));
        var pfn = m.FrameOf(Gpa);
        // What RFC v2 does at the first EPT map: PG_hwpoison, then a hwpoison entry that keeps a reference.
        m.Kernel.Mm.Frames.SetFlags(pfn, FrameFlags.HwPoison | FrameFlags.PolicyPoison);
        m.Kernel.Mm.TryToUnmap(pfn, UnmapFlags.HwPoison | UnmapFlags.KeepReference);
        var freedBefore = m.Ledger.Count(CostKind.FrameFree);

        Expect.Ok(PunchHole(m, 0, 16 * TestMachine.Page));

        Assert.Equal(1, m.Kernel.Mm.RefCount(pfn));
        Assert.Equal(1, m.Kernel.Mm.Frames.HwpEntryRefsOf(pfn));
        Assert.False(m.Kernel.Mm.Allocator.IsFree(pfn));
        Assert.True(m.Kernel.Mm.Frames.Has(pfn, FrameFlags.HwPoison));
        Assert.Equal(freedBefore, m.Ledger.Count(CostKind.FrameFree));
        Assert.Equal(1, m.Ledger.Count(CostKind.FrameKeptByHwpEntry));
        Assert.Equal(1L, Convert.ToInt64(m.Inspect(Gpa)["hwpEntryRefs"]));
    }

    [Fact]
    public void Munmap_AfterPunchHole_DropsTheEntry_AndLeaksThePoisonedFrame()
    {
        var m = TestMachine.Create(BackingKind.Shmem);
        Expect.Ok(m.HostWrite(Gpa, 0x5A, len: 8));
        var pfn = m.FrameOf(Gpa);
        m.Kernel.Mm.Frames.SetFlags(pfn, FrameFlags.HwPoison | FrameFlags.PolicyPoison);
        m.Kernel.Mm.TryToUnmap(pfn, UnmapFlags.HwPoison | UnmapFlags.KeepReference);
        Expect.Ok(PunchHole(m, 0, 16 * TestMachine.Page));

        Expect.Ok(m.Munmap(0, 16 * TestMachine.Page));

        Assert.Equal(0, m.Kernel.Mm.RefCount(pfn));
        Assert.True(m.Kernel.Mm.Frames.Has(pfn, FrameFlags.Offlined)); // K24 under a policy that does not unpoison on free
        Assert.Equal(1, m.Ledger.Count(CostKind.FrameLeaked));
    }

    // K9

    [Fact]
    public void Fork_OfSharedShmemMapping_CopiesNeitherPresentPtesNorHwPoisonEntries()
    {
        var m = TestMachine.Create(BackingKind.Shmem);
        Expect.Ok(m.HostWrite(0x1000, 0x11, len: 8));
        Expect.Ok(m.HostWrite(Gpa, 0x5A, len: 8));
        var present = m.FrameOf(0x1000);
        Expect.Ok(m.MemoryError(Gpa));

        Expect.Ok(m.Fork());

        var child = m.LastChild;
        Assert.True(child.PageTable.Lookup(m.HvaOf(0x1000), out _).IsNone);
        Assert.True(child.PageTable.Lookup(m.HvaOf(Gpa), out _).IsNone);
        Assert.Equal(1, m.Kernel.Mm.MapCount(present));
        Assert.Equal(2, m.Kernel.Mm.RefCount(present));
        Assert.NotNull(child.FindVma(m.HvaOf(0x1000))); // the VMA is inherited; only its entries are not
    }

    [Fact]
    public void Fork_OfPrivateAnonMapping_CopiesTheHwPoisonEntryAndItsReference()
    {
        var m = TestMachine.Create(BackingKind.Anon);
        Expect.Ok(m.HostWrite(Gpa, 0x5A, len: 8));
        var pfn = m.FrameOf(Gpa);
        m.Kernel.Mm.Frames.SetFlags(pfn, FrameFlags.HwPoison | FrameFlags.PolicyPoison);
        m.Kernel.Mm.TryToUnmap(pfn, UnmapFlags.HwPoison | UnmapFlags.KeepReference);

        Expect.Ok(m.Fork());

        Assert.Equal(PteValue.HwPoisonEntry(pfn), m.LastChild.PageTable.Lookup(m.HvaOf(Gpa), out _));
        Assert.Equal(2, m.Kernel.Mm.Frames.HwpEntryRefsOf(pfn));
        Assert.Equal(2, m.Kernel.Mm.RefCount(pfn));
    }

    [Fact]
    public void Fork_OfHugetlbMapping_CopiesIt()
    {
        var m = TestMachine.Create(BackingKind.Hugetlb);
        Expect.Ok(m.HostWrite(Gpa, 0x5A, len: 8));

        Expect.Ok(m.Fork());

        Assert.True(m.LastChild.PageTable.Lookup(m.HvaOf(Gpa), out var size).IsPresent);
        Assert.Equal(MappingSize.Size2M, size);
    }

    // K28

    private static TestMachine AfterRealErrorElsewhere(KernelVersion kernel, out Pfn injected)
    {
        var m = TestMachine.Create(BackingKind.Anon, kernel: kernel);
        Expect.Ok(m.HostWrite(0, 0x11, len: 8));
        Expect.Ok(m.HostWrite(Gpa, 0x5A, len: 8));
        injected = m.FrameOf(0);
        Expect.Ok(m.Madvise(0, TestMachine.Page, "HWPOISON"));
        Expect.Ok(m.MemoryError(Gpa));
        return m;
    }

    [Fact]
    public void Unpoison_At519_AfterARealErrorOnAnotherFrame_IsRefusedEverywhere()
    {
        var m = AfterRealErrorElsewhere(new KernelVersion(5, 19), out var injected);

        Assert.Equal(Errno.EOPNOTSUPP, m.Kernel.MemoryFailure.Unpoison(injected));
        Assert.Equal(Errno.EOPNOTSUPP, m.Kernel.MemoryFailure.Unpoison(new Pfn(0x40)));
        Assert.True(m.Kernel.Mm.Frames.Has(injected, FrameFlags.HwPoison));
    }

    [Fact]
    public void Unpoison_At518_AfterARealErrorOnAnotherFrame_StillClearsTheInjectedFrame()
    {
        var m = AfterRealErrorElsewhere(new KernelVersion(5, 18), out var injected);

        Assert.Equal((Errno)0, m.Kernel.MemoryFailure.Unpoison(injected));
        Assert.False(m.Kernel.Mm.Frames.Has(injected, FrameFlags.HwPoison));
    }

    [Fact]
    public void Unpoison_At519_AfterOnlyInjectedErrors_ClearsTheFrame()
    {
        var m = TestMachine.Create(BackingKind.Anon, kernel: new KernelVersion(5, 19));
        Expect.Ok(m.HostWrite(0, 0x11, len: 8));
        var injected = m.FrameOf(0);
        Expect.Ok(m.Madvise(0, TestMachine.Page, "HWPOISON"));

        Assert.False(m.Kernel.MemoryFailure.HwMemoryFailure);
        Assert.Equal((Errno)0, m.Kernel.MemoryFailure.Unpoison(injected));
        Assert.False(m.Kernel.Mm.Frames.Has(injected, FrameFlags.HwPoison));
    }

    // K11a

    private static readonly KernelOptions EarlyKill = new() { EarlyKill = true };

    [Fact]
    public void MemoryError_OnCleanFilePage_DropsIt_WithoutEntryOrSignal_EvenWithEarlyKill()
    {
        var m = TestMachine.Create(BackingKind.File, options: EarlyKill);
        Expect.Data(m.HostRead(Gpa, 2));
        var pfn = m.FrameOf(Gpa);

        Expect.Ok(m.MemoryError(Gpa));

        Assert.Empty(m.Simulation.LastEvents);
        Assert.True(m.VmmPte(Gpa).IsNone);
        Assert.False(m.VmNamed().File!.Lookup(Gpa >> PageGeometry.PageShift).IsValid);
        Assert.True(m.Kernel.Mm.Frames.Has(pfn, FrameFlags.HwPoison));
        Assert.Equal(new byte[2], Expect.Data(m.HostRead(Gpa, 2)));
        Assert.NotEqual(pfn, m.FrameOf(Gpa));
    }

    [Fact]
    public void MemoryError_OnDirtyFilePage_StillPoisonsTheMapping()
    {
        var m = TestMachine.Create(BackingKind.File, options: EarlyKill);
        Expect.Ok(m.HostWrite(Gpa, 0x5A, len: 8));
        var pfn = m.FrameOf(Gpa);

        Expect.SigBus(SigBusCode.BUS_MCEERR_AO, 12, m.MemoryError(Gpa), m.HvaOf(Gpa));

        Assert.Equal(PteValue.HwPoisonEntry(pfn), m.VmmPte(Gpa));
    }

    [Fact]
    public void HostRead_ConsumingPoisonInACleanFilePage_RestartsOnAFreshFrame()
    {
        var m = TestMachine.Create(BackingKind.File);
        Expect.Data(m.HostRead(Gpa, 2));
        var pfn = m.FrameOf(Gpa);
        m.Kernel.Memory.PoisonLine(pfn, 0);

        Assert.Equal(new byte[2], Expect.Data(m.HostRead(Gpa, 2)));

        Assert.Empty(m.Simulation.LastEvents);
        Assert.NotEqual(pfn, m.FrameOf(Gpa));
        Assert.True(m.Kernel.Mm.Frames.Has(pfn, FrameFlags.HwPoison));
    }

    [Fact]
    public void MemoryError_OnShmemCleanPage_IsNotDropped()
    {
        var m = TestMachine.Create(BackingKind.Shmem);
        Expect.Data(m.HostRead(Gpa, 2));
        var pfn = m.FrameOf(Gpa);

        Expect.Ok(m.MemoryError(Gpa));

        Assert.Equal(PteValue.HwPoisonEntry(pfn), m.VmmPte(Gpa)); // shmem cannot be written back: not mapping_can_writeback
    }

    // K30

    private static (TestMachine Machine, Pfn Pfn) WithUnreachableMapping(KernelVersion kernel)
    {
        var m = TestMachine.Create(BackingKind.Shmem, kernel: kernel, options: EarlyKill);
        Expect.Ok(m.HostWrite(Gpa, 0x5A, len: 8));
        var second = (ulong)Expect.Count(m.Run(new MmapBacking(4 * TestMachine.MiB) with { At = new StepAddress(TestMachine.DefaultVm, null, null, null, 0) }));
        Expect.Data(m.HostReadAt(second + Gpa, 2)); // the second mapping is the one the rmap reaches
        return (m, m.FrameOf(Gpa));
    }

    private static Outcome UnreachableError(TestMachine m)
        => m.Run(new MemoryError(UnreachableMapping: true) with { At = new StepAddress(TestMachine.DefaultVm, Gpa, null, null, null) });

    [Fact]
    public void MemoryError_WhoseUnmapFails_At610_SigkillsTheMapper_AndReturnsEbusy()
    {
        var (m, pfn) = WithUnreachableMapping(new KernelVersion(6, 10));

        Assert.Equal(OutcomeKind.Killed, UnreachableError(m).Kind);

        Assert.Contains(m.Simulation.LastEvents, e => e.Kind == KernelEventKind.SigKill && e.Pid == m.Kernel.VmmPid);
        Assert.True(m.VmmPte(Gpa).IsPresent);
        Assert.Equal(1, m.Kernel.Mm.MapCount(pfn));
    }

    [Fact]
    public void MemoryError_WhoseUnmapFails_At611_SendsSigbusInstead()
    {
        var (m, _) = WithUnreachableMapping(new KernelVersion(6, 11));

        var outcome = UnreachableError(m);

        Assert.Equal(OutcomeKind.SigBus, outcome.Kind);
        Assert.DoesNotContain(m.Simulation.LastEvents, e => e.Kind == KernelEventKind.SigKill);
    }

    [Fact]
    public void MemoryError_WhoseUnmapFails_WithoutCollectedProcesses_ReturnsEbusy()
    {
        var m = TestMachine.Create(BackingKind.Shmem);
        Expect.Ok(m.HostWrite(Gpa, 0x5A, len: 8));

        Expect.Error(Errno.EBUSY, UnreachableError(m));

        Assert.Empty(m.Simulation.LastEvents);
        Assert.True(m.VmmPte(Gpa).IsPresent);
    }

    // K20

    [Fact]
    public void SoftOffline_OfHugetlbPage_MigratesTheWholePage_AndDissolvesTheOldOne()
    {
        var m = TestMachine.Create(BackingKind.Hugetlb);
        Expect.Ok(m.HostWrite(Gpa, 0x5A, len: 8));
        Expect.Ok(m.HostWrite(0x1ff000, 0x6B, len: 8));
        var oldRaw = m.FrameOf(Gpa);
        var oldHead = m.Kernel.Mm.Head(oldRaw);

        Expect.Ok(m.Madvise(Gpa, TestMachine.Page, "SOFT_OFFLINE"));

        var entry = m.VmmPte(Gpa, out var size);
        Assert.Equal(MappingSize.Size2M, size);
        Assert.NotEqual(oldHead, entry.Pfn);
        Assert.Equal(TestMachine.Bytes(0x5A, 8), Expect.Data(m.HostRead(Gpa, 8)));
        Assert.Equal(TestMachine.Bytes(0x6B, 8), Expect.Data(m.HostRead(0x1ff000, 8)));
        Assert.True(m.Kernel.Mm.Frames.Has(oldRaw, FrameFlags.HwPoison | FrameFlags.Offlined));
        Assert.True(m.Kernel.Mm.Allocator.IsFree(oldHead)); // dissolved: the healthy subpages went back one by one
        Assert.False(m.Kernel.Mm.Frames.Has(oldHead, FrameFlags.Compound));
        Assert.Equal(entry.Pfn, m.VmNamed().File!.Lookup(0));
    }

    [Fact]
    public void SoftOffline_OfPinnedHugetlbPage_IsEbusy()
    {
        var m = TestMachine.Create(BackingKind.Hugetlb);
        Expect.Ok(m.HostWrite(Gpa, 0x5A, len: 8));
        var pfn = m.FrameOf(Gpa);
        Expect.Count(m.Gup(Gpa, flags: GupFlags.Pin | GupFlags.Write));

        Expect.Error(Errno.EBUSY, m.Madvise(Gpa, TestMachine.Page, "SOFT_OFFLINE"));

        Assert.Equal(pfn, m.FrameOf(Gpa));
        Assert.False(m.Kernel.Mm.Frames.Has(pfn, FrameFlags.HwPoison));
    }

    // Table V: hugetlbfs read(2) around a poisoned subpage

    [Theory]
    [InlineData(6, 6, 2 * TestMachine.Page)]
    [InlineData(6, 5, 0)]
    public void HugetlbfsRead_AcrossAPoisonedSubpage_At66_IsShortUpToTheRawSubpage_Before_IsEio(int major, int minor, ulong expected)
    {
        var m = TestMachine.Create(BackingKind.Hugetlb, kernel: new KernelVersion(major, minor));
        Expect.Ok(m.HostWrite(0x1000, 0x88, len: 8));
        Expect.Ok(m.MemoryError(0x2000));

        var outcome = m.Pread(0, (int)(3 * TestMachine.Page));

        if (expected == 0) Expect.Error(Errno.EIO, outcome);
        else Assert.Equal((long)expected, Expect.Count(outcome));
        Assert.True(m.Kernel.MemoryFailure.IsRawHwPoison(m.FrameOf(0x2000)));
        Assert.False(m.Kernel.MemoryFailure.IsRawHwPoison(m.FrameOf(0x1000)));
    }
}

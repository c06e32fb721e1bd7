using Vmm.Abstractions;
using Vmm.Core.Engine;
using Vmm.Core.Tests.Infrastructure;

namespace Vmm.Core.Tests.Machine;

public class MemoryFailureTests
{
    private const ulong Gpa = 0x5000;
    private static readonly KernelVersion V611 = new(6, 11);
    private static readonly KernelVersion V515 = new(5, 15);

    private static TestMachine Written(BackingKind backing = BackingKind.Anon, KernelVersion? kernel = null, KernelOptions? options = null)
    {
        var m = TestMachine.Create(backing, kernel: kernel, options: options);
        Expect.Ok(m.HostWrite(Gpa, 0x5A, len: 64));
        return m;
    }

    /// <summary>A VMM mapping of the first 2 MiB of the VM as one THP (madvise HUGEPAGE, then a write).</summary>
    private static TestMachine WithThp(KernelVersion? kernel = null)
    {
        var m = TestMachine.Create(BackingKind.Anon, kernel: kernel);
        Expect.Ok(m.Madvise(0, TestMachine.Huge, "HUGEPAGE"));
        Expect.Ok(m.HostWrite(0x2000, 0x21, len: 32));
        Expect.Ok(m.HostWrite(0x3000, 0x31, len: 32));
        Assert.Equal(true, m.Inspect(0x3000)["huge"]);
        return m;
    }

    // K11

    [Fact]
    public void MemoryError_LateKill_UnmapsToHwPoisonEntryWithoutSignal()
    {
        var m = Written();
        var pfn = m.FrameOf(Gpa);

        Expect.Ok(m.MemoryError(Gpa));

        Assert.Empty(m.Simulation.LastEvents);
        Assert.Equal(PteValue.HwPoisonEntry(pfn), m.VmmPte(Gpa));
        Assert.True(m.Kernel.Mm.Frames.Has(pfn, FrameFlags.HwPoison | FrameFlags.RealError));
        Assert.Equal(0, m.Kernel.Mm.MapCount(pfn));
        Assert.Equal(1, m.Kernel.Mm.RefCount(pfn)); // memory_failure's reference, never dropped
    }

    [Fact]
    public void HostRead_OfHwPoisonEntry_GetsSigbusMceerrArLsb12()
    {
        var m = Written();
        Expect.Ok(m.MemoryError(Gpa));

        Expect.SigBus(SigBusCode.BUS_MCEERR_AR, 12, m.HostRead(Gpa + 8), m.HvaOf(Gpa + 8));
        Expect.SigBus(SigBusCode.BUS_MCEERR_AR, 12, m.HostWrite(Gpa, 1, len: 1), m.HvaOf(Gpa));
    }

    [Fact]
    public void MemoryError_LateKill_OtherPagesStayReadable()
    {
        var m = Written();
        Expect.Ok(m.HostWrite(Gpa + TestMachine.Page, 0x6B, len: 4));

        Expect.Ok(m.MemoryError(Gpa));

        Assert.Equal(TestMachine.Bytes(0x6B, 4), Expect.Data(m.HostRead(Gpa + TestMachine.Page, 4)));
    }

    // K12

    [Fact]
    public void MemoryError_EarlyKill_SendsSigbusAoLsb12ToTheVmmNow()
    {
        var m = Written(options: new KernelOptions { EarlyKill = true });

        var outcome = m.MemoryError(Gpa);

        Expect.SigBus(SigBusCode.BUS_MCEERR_AO, 12, outcome, m.HvaOf(Gpa));
        Assert.True(m.VmmPte(Gpa).IsHwPoison);
    }

    [Fact]
    public void MemoryError_EarlyKill_SignalsEveryMappingProcessAsynchronously()
    {
        var m = Written(options: new KernelOptions { EarlyKill = true });
        Expect.Ok(m.Fork());
        var child = m.LastChild;

        m.MemoryError(Gpa);

        var signals = m.Simulation.LastEvents.Where(e => e.Kind == KernelEventKind.SigBus).ToList();
        Assert.Equal(2, signals.Count);
        Assert.All(signals, e =>
        {
            Assert.Equal(SigBusCode.BUS_MCEERR_AO, e.Code);
            Assert.Equal(12, e.Lsb);
            Assert.Equal(SignalContext.Async, e.Context);
        });
        Assert.Equal([m.VmmProcess.Pid, child.Pid], signals.Select(e => e.Pid).Order().ToList());
        Assert.True(child.PageTable.Lookup(m.HvaOf(Gpa), out _).IsHwPoison);
    }

    [Fact]
    public void MemoryError_LateKill_WithForkedChild_SignalsNobody()
    {
        var m = Written();
        Expect.Ok(m.Fork());

        Expect.Ok(m.MemoryError(Gpa));

        Assert.DoesNotContain(m.Simulation.LastEvents, e => e.Kind == KernelEventKind.SigBus);
        Assert.True(m.LastChild.PageTable.Lookup(m.HvaOf(Gpa), out _).IsHwPoison);
    }

    // K13

    [Fact]
    public void MemoryError_Consumed_GivesTheVmmSigbusArLsb12AtThePage()
    {
        var m = Written();

        var outcome = m.MemoryError(Gpa + 0x40, consumed: true);

        Expect.SigBus(SigBusCode.BUS_MCEERR_AR, 12, outcome, m.HvaOf(Gpa));
        Assert.True(m.VmmPte(Gpa).IsHwPoison);
        Assert.Equal(1, m.Ledger.Count(CostKind.MachineCheck));
    }

    [Fact]
    public void HostRead_OfPoisonedLineBehindPresentPte_RunsMemoryFailureAndGetsSigbusAr()
    {
        var m = Written();
        var pfn = m.FrameOf(Gpa);
        m.Kernel.Memory.PoisonLine(pfn, 1);

        Expect.Data(m.HostRead(Gpa, 64)); // line 0 is clean
        var outcome = m.HostRead(Gpa + 64, 8);

        Expect.SigBus(SigBusCode.BUS_MCEERR_AR, 12, outcome, m.HvaOf(Gpa));
        Assert.True(m.Kernel.Mm.Frames.Has(pfn, FrameFlags.HwPoison));
        Assert.True(m.VmmPte(Gpa).IsHwPoison);
    }

    // K14

    [Fact]
    public void MemoryError_OnAlreadyPoisonedFrame_ReturnsEhwpoison()
    {
        var m = Written();
        Expect.Ok(m.MemoryError(Gpa));

        Expect.Error(Errno.EHWPOISON, m.MemoryError(Gpa));
    }

    [Fact]
    public void MemoryError_ConsumedOnAlreadyPoisonedFrame_GivesSigbusAr()
    {
        var m = Written();
        Expect.Ok(m.MemoryError(Gpa));

        Expect.SigBus(SigBusCode.BUS_MCEERR_AR, 12, m.MemoryError(Gpa, consumed: true), m.HvaOf(Gpa));
    }

    // K15

    [Fact]
    public void MemoryError_OnThpSubpage_SplitsAndPoisonsOnlyThatSubpage()
    {
        var m = WithThp();
        var splits = m.Ledger.Count(CostKind.ThpSplit);

        Expect.Ok(m.MemoryError(0x3000));

        Assert.True(m.Ledger.Count(CostKind.ThpSplit) > splits);
        Assert.Equal(false, m.Inspect(0x2000)["huge"]);
        Assert.True(m.VmmPte(0x3000, out var size).IsHwPoison);
        Assert.Equal(MappingSize.Size4K, size);
        Assert.True(m.VmmPte(0x2000).IsPresent);
        Assert.False(m.Kernel.Mm.Frames.Has(m.FrameOf(0x2000), FrameFlags.HwPoison | FrameFlags.Compound));
        Assert.Equal(TestMachine.Bytes(0x21, 32), Expect.Data(m.HostRead(0x2000, 32)));
        Expect.SigBus(SigBusCode.BUS_MCEERR_AR, 12, m.HostRead(0x3000));
    }

    [Fact]
    public void MadviseHwPoison_OnThpSubpage_SplitsAndPoisonsOnlyThatSubpage()
    {
        var m = WithThp();

        Expect.Ok(m.Madvise(0x3000, TestMachine.Page, "HWPOISON"));

        Assert.True(m.VmmPte(0x3000).IsHwPoison);
        Assert.True(m.VmmPte(0x2000).IsPresent);
        Assert.Equal(false, m.Inspect(0x2000)["huge"]);
        Expect.SigBus(SigBusCode.BUS_MCEERR_AR, 12, m.HostRead(0x3000));
    }

    // K16

    [Fact]
    public void MemoryError_OnPinnedThp_516_FailsEbusyAndUnmapsNothing()
    {
        var m = WithThp();
        Expect.Count(m.Gup(0, flags: GupFlags.Pin));

        Expect.Error(Errno.EBUSY, m.MemoryError(0x3000));

        Assert.Empty(m.Simulation.LastEvents);
        Assert.Equal(true, m.Inspect(0x3000)["huge"]);
        Assert.True(m.VmmPte(0x3000).IsPresent);
        Assert.Equal(1, m.Ledger.Count(CostKind.ThpSplitFailed));
    }

    [Fact]
    // kill_procs_now (6.11) reports the still-huge folio: lsb 21.
    public void MemoryError_ConsumedOnPinnedThp_611_FailsEhwpoisonWithSigbusAr()
    {
        var m = WithThp(V611);
        Expect.Count(m.Gup(0, flags: GupFlags.Pin));

        var outcome = m.MemoryError(0x3000, consumed: true);

        Expect.SigBus(SigBusCode.BUS_MCEERR_AR, 21, outcome, m.HvaOf(0x3000));
        Assert.Equal(true, m.Inspect(0x3000)["huge"]); // the split failed: still mapped huge
    }

    [Fact]
    public void MemoryError_OnPinnedThp_611_ReturnsEhwpoison()
    {
        var m = WithThp(V611);
        Expect.Count(m.Gup(0, flags: GupFlags.Pin));
        var pfn = m.FrameOf(0x3000);

        var rc = m.Kernel.MemoryFailure.Handle(pfn, actionRequired: false, current: null, currentVa: default);

        Assert.Equal(Errno.EHWPOISON, rc);
        Assert.True(m.Kernel.Mm.Frames.Has(pfn, FrameFlags.HwPoison));
    }

    [Fact]
    // K19: the caller's signal is the outcome, even where madvise itself also returns an errno (OutcomeResolver).
    public void MadviseHwPoison_OnPinnedThp_611_IsTheCallersSigbusNotMadvisesEhwpoison()
    {
        var m = WithThp(V611);
        Expect.Count(m.Gup(0, flags: GupFlags.Pin));

        var outcome = m.Madvise(0x3000, TestMachine.Page, "HWPOISON");

        Expect.SigBus(SigBusCode.BUS_MCEERR_AR, 21, outcome, m.HvaOf(0x3000));
        Assert.Equal(true, m.Inspect(0x3000)["huge"]);
    }

    [Fact]
    public void MemoryError_OnPinnedThp_611WithEarlyKill_SignalsAo()
    {
        var m = TestMachine.Create(new MachineSetup { Kernel = V611, Options = new KernelOptions { EarlyKill = true } });
        Expect.Ok(m.Madvise(0, TestMachine.Huge, "HUGEPAGE"));
        Expect.Ok(m.HostWrite(0x3000, 0x31));
        Expect.Count(m.Gup(0, flags: GupFlags.Pin));

        Expect.SigBus(SigBusCode.BUS_MCEERR_AO, 21, m.MemoryError(0x3000), m.HvaOf(0x3000));
    }

    // K17

    [Fact]
    public void MemoryError_OnFreeFrame_TakesItOffTheAllocatorForGood()
    {
        var m = TestMachine.Create();
        var victim = new Pfn(40);
        Assert.True(m.Kernel.Mm.Allocator.IsFree(victim));

        Expect.Ok(m.MemoryErrorAtPfn(victim));

        Assert.True(m.Kernel.Mm.Frames.Has(victim, FrameFlags.HwPoison | FrameFlags.Offlined));
        for (var i = 0; i < 100; i++) Assert.NotEqual(victim, m.Kernel.Mm.AllocateFrame());
    }

    [Fact]
    public void MemoryError_OnFrameOnTheFreeList_IsNeverReallocated()
    {
        var m = TestMachine.Create();
        Expect.Ok(m.HostWrite(Gpa, 1));
        var pfn = m.FrameOf(Gpa);
        Expect.Ok(m.Munmap(Gpa, TestMachine.Page));
        Assert.True(m.Kernel.Mm.Allocator.IsFree(pfn));

        Expect.Ok(m.MemoryErrorAtPfn(pfn));

        for (var i = 0; i < 100; i++) Assert.NotEqual(pfn, m.Kernel.Mm.AllocateFrame());
    }

    // K18

    [Fact]
    public void MemoryError_WithRecoveryOff_PanicsTheHostAndLaterStepsDoNotRun()
    {
        var m = Written(options: new KernelOptions { Recovery = false });

        Expect.Kind(OutcomeKind.HostPanic, m.MemoryError(Gpa));

        Assert.True(m.Simulation.Ended);
        Expect.Kind(OutcomeKind.NotRun, m.HostRead(Gpa));
        Expect.Kind(OutcomeKind.NotRun, m.Fork());
    }

    // K19

    [Fact]
    public void MadviseHwPoison_516_DoesNotSignalTheCaller()
    {
        var m = Written();

        Expect.Ok(m.Madvise(Gpa, TestMachine.Page, "HWPOISON"));

        Assert.True(m.VmmPte(Gpa).IsHwPoison);
        Assert.True(m.Kernel.Mm.Frames.Has(m.FrameOf(Gpa), FrameFlags.HwPoison));
        Assert.False(m.Kernel.Mm.Frames.Has(m.FrameOf(Gpa), FrameFlags.RealError)); // injected, not a real error
    }

    [Fact]
    public void MadviseHwPoison_611_SignalsTheCallerAtOnce()
    {
        var m = Written(kernel: V611);

        Expect.SigBus(SigBusCode.BUS_MCEERR_AR, 12, m.Madvise(Gpa, TestMachine.Page, "HWPOISON"), m.HvaOf(Gpa));
    }

    // K20

    [Fact]
    public void MadviseSoftOffline_MigratesContentsAndRetiresTheOldFrame()
    {
        var m = Written();
        var old = m.FrameOf(Gpa);

        Expect.Ok(m.Madvise(Gpa, TestMachine.Page, "SOFT_OFFLINE"));

        var moved = m.FrameOf(Gpa);
        Assert.NotEqual(old, moved);
        Assert.Empty(m.Simulation.LastEvents);
        Assert.True(m.Kernel.Mm.Frames.Has(old, FrameFlags.HwPoison | FrameFlags.Offlined));
        Assert.False(m.Kernel.Mm.Frames.Has(moved, FrameFlags.HwPoison));
        Assert.Equal(TestMachine.Bytes(0x5A, 64), Expect.Data(m.HostRead(Gpa, 64)));
        Expect.Ok(m.HostWrite(Gpa, 0x77, len: 4));
        for (var i = 0; i < 100; i++) Assert.NotEqual(old, m.Kernel.Mm.AllocateFrame());
    }

    [Fact]
    public void MadviseSoftOffline_OfShmemPage_KeepsPreadWorking()
    {
        var m = Written(BackingKind.Shmem);

        Expect.Ok(m.Madvise(Gpa, TestMachine.Page, "SOFT_OFFLINE"));

        Assert.Equal(TestMachine.Bytes(0x5A, 64), Expect.Data(m.Pread(Gpa, 64)));
        Assert.Equal(TestMachine.Bytes(0x5A, 64), Expect.Data(m.HostRead(Gpa, 64)));
    }

    // K21 / K22

    [Fact]
    public void ShmemPread_OfPoisonedPage_516_FailsEio()
    {
        var m = Written(BackingKind.Shmem);
        Expect.Ok(m.MemoryError(Gpa));

        Expect.Error(Errno.EIO, m.Pread(Gpa, 16));
        Expect.Error(Errno.EIO, m.Run("host.pwrite", offset: Gpa, data: [1, 2, 3]));
    }

    [Fact]
    public void ShmemPread_OfPoisonedPage_515_ReadsZeros()
    {
        var m = Written(BackingKind.Shmem, kernel: V515);
        Expect.Ok(m.MemoryError(Gpa));

        var data = Expect.Data(m.Pread(Gpa, 16));

        Assert.Equal(new byte[16], data);
        Assert.False(m.VmNamed().File!.Lookup(Gpa >> 12).IsValid); // truncated from the page cache
    }

    [Fact]
    public void ShmemPread_BeforePoison_ReadsTheData()
    {
        var m = Written(BackingKind.Shmem);

        Assert.Equal(TestMachine.Bytes(0x5A, 16), Expect.Data(m.Pread(Gpa, 16)));
    }

    [Fact]
    public void ShmemPread_ThatStartsBeforeThePoisonedPage_ReturnsAShortCount()
    {
        var m = Written(BackingKind.Shmem);
        Expect.Ok(m.HostWrite(Gpa - TestMachine.Page, 0x44, len: 16));
        Expect.Ok(m.MemoryError(Gpa));

        var outcome = m.Pread(Gpa - TestMachine.Page, 2 * (int)TestMachine.Page);

        Assert.Equal((long)TestMachine.Page, Expect.Count(outcome));
    }

    // K23

    [Fact]
    public void HostRead_ThroughNewMappingOfPoisonedShmemPage_GetsSigbusArLsb12()
    {
        var m = Written(BackingKind.Shmem);
        Expect.Ok(m.MemoryError(Gpa));
        var hva = (ulong)Expect.Count(m.Run("host.mmap-backing", offset: 0, size: 4 * TestMachine.MiB));

        var outcome = m.HostReadAt(hva + Gpa + 4);

        Expect.SigBus(SigBusCode.BUS_MCEERR_AR, 12, outcome, hva + Gpa + 4);
        Expect.Error(Errno.EIO, m.Pread(Gpa, 16));
    }

    [Fact]
    public void HostRead_ThroughNewMappingOfHealthyShmemPage_SeesTheData()
    {
        var m = Written(BackingKind.Shmem);
        var hva = (ulong)Expect.Count(m.Run("host.mmap-backing", offset: 0, size: 4 * TestMachine.MiB));

        Assert.Equal(TestMachine.Bytes(0x5A, 16), Expect.Data(m.HostReadAt(hva + Gpa)));
    }

    // K24

    [Fact]
    public void PoisonedAnonFrame_IsNotReturnedToTheAllocatorWhenUnmapped()
    {
        var m = Written();
        var pfn = m.FrameOf(Gpa);
        Expect.Ok(m.MemoryError(Gpa));
        var allocated = m.Kernel.Mm.Allocator.AllocatedFrames;

        Expect.Ok(m.Munmap(0, 4 * TestMachine.MiB));

        Assert.True(m.VmmPte(Gpa).IsNone);
        Assert.False(m.Kernel.Mm.Allocator.IsFree(pfn));
        Assert.Equal(allocated, m.Kernel.Mm.Allocator.AllocatedFrames);
        for (var i = 0; i < 100; i++) Assert.NotEqual(pfn, m.Kernel.Mm.AllocateFrame());
    }

    [Fact]
    public void FreeOfPoisonedFrame_LeaksItAsOfflined()
    {
        var m = Written();
        var pfn = m.FrameOf(Gpa);
        m.Kernel.Mm.SetFlags(pfn, FrameFlags.HwPoison); // poisoned while still mapped (no memory_failure reference)
        var allocated = m.Kernel.Mm.Allocator.AllocatedFrames;

        Expect.Ok(m.Munmap(Gpa, TestMachine.Page));

        Assert.Equal(0, m.Kernel.Mm.RefCount(pfn));
        Assert.True(m.Kernel.Mm.Frames.Has(pfn, FrameFlags.Offlined));
        Assert.False(m.Kernel.Mm.Allocator.IsFree(pfn));
        Assert.Equal(allocated, m.Kernel.Mm.Allocator.AllocatedFrames);
        for (var i = 0; i < 100; i++) Assert.NotEqual(pfn, m.Kernel.Mm.AllocateFrame());
    }

    [Fact]
    public void FreeOfHealthyFrame_ReturnsItToTheAllocator()
    {
        var m = Written();
        var pfn = m.FrameOf(Gpa);
        var allocated = m.Kernel.Mm.Allocator.AllocatedFrames;

        Expect.Ok(m.Munmap(Gpa, TestMachine.Page));

        Assert.True(m.Kernel.Mm.Allocator.IsFree(pfn));
        Assert.Equal(allocated - 1, m.Kernel.Mm.Allocator.AllocatedFrames);
        Assert.Equal(pfn, m.Kernel.Mm.AllocateFrame()); // the free stack hands it out first
    }

    // K25

    [Fact]
    public void ThpCollapse_OverRangeWithHwPoisonEntry_IsRefused()
    {
        var m = Written();
        Expect.Ok(m.MemoryError(Gpa));

        Expect.Error(Errno.EINVAL, m.Run("thp.collapse", gpa: 0));

        Assert.Equal(false, m.Inspect(0)["huge"]);
        Assert.True(m.VmmPte(Gpa).IsHwPoison);
        Assert.Equal(0, m.Ledger.Count(CostKind.ThpCollapse));
    }

    [Fact]
    public void ThpCollapse_OverHealthyRange_MapsHugeAndKeepsData()
    {
        var m = Written();

        Expect.Ok(m.Run("thp.collapse", gpa: 0));

        Assert.Equal(true, m.Inspect(Gpa)["huge"]);
        Assert.Equal(1, m.Ledger.Count(CostKind.ThpCollapse));
        Assert.Equal(TestMachine.Bytes(0x5A, 64), Expect.Data(m.HostRead(Gpa, 64)));
    }
}

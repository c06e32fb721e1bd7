using Vmm.Abstractions;
using Vmm.Core.Machine;
using Vmm.Core.Tests.Infrastructure;

namespace Vmm.Core.Tests.Machine;

public class TryToUnmapTests
{
    private const ulong Gpa = 0x3000;

    /// <summary>A written anon page mapped by the VMM and a forked child, held and flagged as memory_failure would.</summary>
    private static (TestMachine M, Pfn Pfn, Process Child) SharedPoisonCandidate()
    {
        var m = TestMachine.Create();
        Expect.Ok(m.HostWrite(Gpa, 0xAB));
        Expect.Ok(m.Fork());
        var child = m.LastChild;
        var pfn = m.FrameOf(Gpa);
        m.Kernel.Mm.GetPage(pfn); // get_hwpoison_page
        m.Kernel.Mm.SetFlags(pfn, FrameFlags.HwPoison);
        return (m, pfn, child);
    }

    [Fact]
    public void HostWrite_MapsAFrame_RecordedInRmapWithMapcountAndRefcount()
    {
        var m = TestMachine.Create();

        Expect.Ok(m.HostWrite(Gpa, 0x11));
        var pfn = m.FrameOf(Gpa);

        Assert.True(pfn.IsValid);
        Assert.Equal(1, m.Kernel.Mm.MapCount(pfn));
        Assert.Equal(1, m.Kernel.Mm.RefCount(pfn));
        Assert.Equal([(m.VmmProcess.Pid, new Hva(m.HvaOf(Gpa)))], m.Kernel.Mm.Mappings(pfn));
        Assert.Equal(FrameFlags.InUse | FrameFlags.SwapBacked, m.Kernel.Mm.GetFlags(pfn) & (FrameFlags.InUse | FrameFlags.SwapBacked));
    }

    [Fact]
    public void Fork_AddsTheChildsMappingToTheRmap()
    {
        var m = TestMachine.Create();
        Expect.Ok(m.HostWrite(Gpa, 0x11));
        var pfn = m.FrameOf(Gpa);

        Expect.Ok(m.Fork());

        Assert.Equal(2, m.Kernel.Mm.MapCount(pfn));
        Assert.Equal(2, m.Kernel.Mm.RefCount(pfn));
        Assert.Contains((m.LastChild.Pid, new Hva(m.HvaOf(Gpa))), m.Kernel.Mm.Mappings(pfn));
    }

    [Fact]
    public void TryToUnmap_HwPoison_TurnsEveryMappingIncludingTheChildsIntoHwPoisonEntries()
    {
        var (m, pfn, child) = SharedPoisonCandidate();
        var nodesBefore = m.Kernel.Mm.Rmap.LiveNodes;

        var changed = m.Kernel.Mm.TryToUnmap(pfn, UnmapFlags.HwPoison);

        Assert.Equal(2, changed);
        var hva = m.HvaOf(Gpa);
        Assert.Equal(PteValue.HwPoisonEntry(pfn), m.VmmProcess.PageTable.Lookup(hva, out _));
        Assert.Equal(PteValue.HwPoisonEntry(pfn), child.PageTable.Lookup(hva, out _));
        Assert.Equal(0, m.Kernel.Mm.MapCount(pfn));
        Assert.Empty(m.Kernel.Mm.Mappings(pfn));
        Assert.Equal(nodesBefore - 2, m.Kernel.Mm.Rmap.LiveNodes);
        Assert.Equal(1, m.Kernel.Mm.RefCount(pfn)); // only memory_failure's reference is left
    }

    [Fact]
    public void TryToUnmap_CountsOneTlbShootdownAndOneUnmapPerMapping()
    {
        var (m, pfn, _) = SharedPoisonCandidate();
        var shootdowns = m.Ledger.Count(CostKind.TlbShootdown);
        var unmaps = m.Ledger.Count(CostKind.Unmap);
        var walks = m.Ledger.Count(CostKind.RmapWalk);

        m.Kernel.Mm.TryToUnmap(pfn, UnmapFlags.HwPoison);

        Assert.Equal(shootdowns + 2, m.Ledger.Count(CostKind.TlbShootdown));
        Assert.Equal(unmaps + 2, m.Ledger.Count(CostKind.Unmap));
        Assert.Equal(walks + 1, m.Ledger.Count(CostKind.RmapWalk));
    }

    [Fact]
    public void HostRead_AfterTryToUnmap_GetsSigbusMceerrArLsb12AtTheFaultingAddress()
    {
        var (m, pfn, _) = SharedPoisonCandidate();
        Expect.Data(m.HostRead(Gpa)); // the TLB holds the translation now
        m.Kernel.Mm.TryToUnmap(pfn, UnmapFlags.HwPoison);

        var outcome = m.HostRead(Gpa + 0x10);

        Expect.SigBus(SigBusCode.BUS_MCEERR_AR, 12, outcome, m.HvaOf(Gpa + 0x10));
    }

    [Fact]
    public void ChildRead_AfterTryToUnmap_GetsSigbusMceerrArLsb12()
    {
        var (m, pfn, child) = SharedPoisonCandidate();
        m.Kernel.Mm.TryToUnmap(pfn, UnmapFlags.HwPoison);

        var outcome = m.UserAccess(child, m.HvaOf(Gpa), new byte[8], write: false);

        Expect.SigBus(SigBusCode.BUS_MCEERR_AR, 12, outcome, m.HvaOf(Gpa));
    }

    [Fact]
    public void TryToUnmap_WithoutHwPoison_LeavesNoneEntriesAndTheNextTouchRefaults()
    {
        var m = TestMachine.Create();
        Expect.Ok(m.HostWrite(Gpa, 0x22));
        var pfn = m.FrameOf(Gpa);
        m.Kernel.Mm.GetPage(pfn);

        Assert.Equal(1, m.Kernel.Mm.TryToUnmap(pfn, UnmapFlags.None));

        Assert.True(m.VmmPte(Gpa).IsNone);
        var data = Expect.Data(m.HostRead(Gpa, 4));
        Assert.Equal(new byte[4], data); // a fresh anon fault: the old contents are not reachable
    }

    [Fact]
    public void TryToUnmap_KeepReference_MovesTheMappingsReferenceIntoTheEntryAndZapDropsIt()
    {
        var m = TestMachine.Create();
        Expect.Ok(m.HostWrite(Gpa, 0x33));
        var pfn = m.FrameOf(Gpa);
        m.Kernel.Mm.SetFlags(pfn, FrameFlags.HwPoison | FrameFlags.PolicyPoison);

        m.Kernel.Mm.TryToUnmap(pfn, UnmapFlags.HwPoison | UnmapFlags.KeepReference);

        Assert.Equal(1, m.Kernel.Mm.RefCount(pfn));
        Assert.Equal(1, m.Kernel.Mm.Frames.HwpEntryRefsOf(pfn));
        var allocated = m.Kernel.Mm.Allocator.AllocatedFrames;

        Expect.Ok(m.Munmap(Gpa, TestMachine.Page));

        Assert.Equal(0, m.Kernel.Mm.Frames.HwpEntryRefsOf(pfn));
        Assert.Equal(0, m.Kernel.Mm.RefCount(pfn));
        // NonePolicy does not claim the frame, so the poisoned frame is leaked, not freed (K24).
        Assert.Equal(allocated, m.Kernel.Mm.Allocator.AllocatedFrames);
        Assert.True(m.Kernel.Mm.Frames.Has(pfn, FrameFlags.Offlined));
    }

    [Fact]
    public void TryToUnmap_OfAnUnmappedFrame_ChangesNothingButCountsTheWalk()
    {
        var m = TestMachine.Create();
        var walks = m.Ledger.Count(CostKind.RmapWalk);
        var shootdowns = m.Ledger.Count(CostKind.TlbShootdown);

        Assert.Equal(0, m.Kernel.Mm.TryToUnmap(new Pfn(77), UnmapFlags.HwPoison));

        Assert.Equal(walks + 1, m.Ledger.Count(CostKind.RmapWalk));
        Assert.Equal(shootdowns, m.Ledger.Count(CostKind.TlbShootdown));
    }
}

using Vmm.Abstractions;
using Vmm.Core.Tests.Infrastructure;
using Vmm.Plugins.Thp.Tests.Infrastructure;
using static Vmm.Plugins.Thp.Tests.Infrastructure.ThpMachine;

namespace Vmm.Plugins.Thp.Tests;

/// <summary>The kernel side the strategies use, on a real simulation: the PMD marker, PMD re-installation, K25 and the gauges.</summary>
public class KernelSideTests
{
    [Fact]
    public void PmdPoison_PrivatePage_LeavesAMarkerHoldingTheWholeThpAndMakesAll512FramesPrivate()
    {
        var m = Create("pmd-poison");
        Assert.Equal(OutcomeKind.Ok, m.HostWrite(0x2000, 0x77, 1, Td).Kind);
        var head = m.FrameOf(0, Td);

        Assert.Equal(OutcomeKind.Ok, m.GuestWritePrivate(0x1000).Kind);

        var marker = m.VmmPte(0x1000, out var size, Td);
        Assert.Equal(MappingSize.Size2M, size);
        Assert.True(marker.IsHwPoison);
        Assert.Equal(head, marker.SwapPfn);
        Assert.Equal(1, m.Kernel.Mm.Frames.HwpEntryRefsOf(head));
        for (var i = 0; i < PageGeometry.PagesPerHuge; i++)
            Assert.True(m.Kernel.Mm.Frames.Has(head.Add(i), FrameFlags.Private | FrameFlags.HwPoison), $"subpage {i} is not private");
        var far = m.HostRead(0x1ff000, 1, Td);
        Assert.Equal((OutcomeKind.SigBus, SigBusCode.BUS_MCEERR_AR, 21), (far.Kind, far.SigBusCode, far.Lsb));
    }

    [Fact]
    public void PmdPoison_TouchOfASharedPageUnderTheMarker_RemapsOnlyWithPtes_CountedAsOneSplit()
    {
        var m = Create("pmd-poison");
        m.HostWrite(0x2000, 0x77, 1, Td);
        m.GuestWritePrivate(0x1000);
        var tables = m.VmmProcess.PageTable.TablePages;
        Assert.Equal(OutcomeKind.Ok, m.Convert(0x2000, Page, toPrivate: false).Kind);
        var splits = m.Ledger.Count(CostKind.ThpSplit);

        var read = m.HostRead(0x2000, 1, Td);

        Assert.Equal(OutcomeKind.Ok, read.Kind);
        Assert.Equal(splits + 1, m.Ledger.Count(CostKind.ThpSplit));
        Assert.Equal(tables + 1, m.VmmProcess.PageTable.TablePages);
        Assert.True(m.VmmPte(0x2000, out var size, Td).IsPresent);
        Assert.Equal(MappingSize.Size4K, size);
        Assert.True(m.VmmPte(0x1000, Td).IsHwPoison);
        Assert.True(m.VmmPte(0x3000, Td).IsHwPoison);
    }

    [Fact]
    public void PmdPoison_DestroyingTheVm_FreesTheWholeThp()
    {
        var m = Create("pmd-poison");
        m.HostWrite(0x2000, 0x77, 1, Td);
        var head = m.FrameOf(0, Td);
        m.GuestWritePrivate(0x1000);

        Assert.Equal(OutcomeKind.Ok, m.Run("vm.destroy", Td).Kind);
        m.Run("host.exit", null);

        Assert.Equal(0, m.Kernel.Mm.Frames.RefCountOf(head));
        Assert.False(m.Kernel.Mm.Frames.Has(head.Add(5), FrameFlags.HwPoison), "hwpoison-v2 unpoisons a freed frame; the unit's other frames must be freed the same way");
    }

    [Fact]
    public void PmdPoison_MemoryErrorAfterAFork_TurnsTheMarkerIntoPtesInBothProcessesBeforeTheThpSplits()
    {
        var m = Create("pmd-poison");
        m.HostWrite(0x2000, 0x77, 1, Td);
        var head = m.FrameOf(0, Td);
        m.GuestWritePrivate(0x1000);
        m.Convert(0x2000, 2 * Page, toPrivate: false);
        Assert.Equal(OutcomeKind.Ok, m.Fork().Kind);
        var child = m.LastChild;

        Assert.Equal(OutcomeKind.Ok, m.MemoryError(0x3000, vm: Td).Kind);

        Assert.False(m.Kernel.Mm.Frames.Has(head, FrameFlags.Compound), "the THP was not split");
        foreach (var p in new[] { m.VmmProcess, child })
        {
            var marker = p.PageTable.Lookup(m.HvaOf(0x1000, Td), out var size);
            Assert.Equal((MappingSize.Size4K, true), (size, marker.IsHwPoison));
            Assert.True(p.PageTable.Lookup(m.HvaOf(0x2000, Td), out _).IsPresent);
        }
        Assert.Equal((2, 2), (m.Kernel.Mm.Frames.RefCountOf(head.Add(2)), m.Kernel.Mm.Frames.MapCountOf(head.Add(2))));
    }

    [Fact]
    public void PmdPoison_ChildWriteToASharedPageUnderAForkedMarker_CopiesAndLeavesTheParentsDataAlone()
    {
        var m = Create("pmd-poison");
        m.HostWrite(0x2000, 0x77, 1, Td);
        m.GuestWritePrivate(0x1000);
        m.Convert(0x2000, Page, toPrivate: false);
        m.Fork();

        var write = m.UserAccess(m.LastChild, m.HvaOf(0x2000, Td), [0x99], write: true);

        Assert.Equal(OutcomeKind.Ok, write.Kind);
        Assert.Equal(0x77, m.HostRead(0x2000, 1, Td).Data![0]);
        Assert.NotEqual(m.LastChild.PageTable.Lookup(m.HvaOf(0x2000, Td), out _).Pfn, m.VmmPte(0x2000, Td).Pfn);
    }

    [Fact]
    public void LazySplit_ShareOfTheLastPrivatePage_ReinstallsThePmdOverTheSamePageWithoutACopy()
    {
        var m = Create("lazy-split");
        m.HostWrite(0x2000, 0x77, 1, Td);
        var head = m.FrameOf(0, Td);
        m.GuestWritePrivate(0x1000);
        Assert.False(m.Kernel.HugeMemory.IsHugeMapped(m.VmmProcess.Pid, new Hva(m.HvaOf(0x1000, Td))));

        Assert.Equal(OutcomeKind.Ok, m.Convert(0x1000, Page, toPrivate: false).Kind);

        var entry = m.VmmPte(0x1000, out var size, Td);
        Assert.Equal((true, MappingSize.Size2M, head), (entry.IsPresent, size, entry.Pfn));
        Assert.Equal(1, m.Ledger.Count(CostKind.ThpPmdRemap));
        Assert.Equal(0, m.Ledger.Count(CostKind.PageCopy));
        Assert.Equal(0x5e, m.HostRead(0x1000, 1, Td).Data![0]);
    }

    [Fact]
    public void LazySplit_ShareOfOnePageOfTwo_KeepsThePtes()
    {
        var m = Create("lazy-split");
        m.HostWrite(0x2000, 0x77, 1, Td);
        m.GuestWritePrivate(0x1000);
        m.GuestWritePrivate(0x5000);

        m.Convert(0x1000, Page, toPrivate: false);

        Assert.Equal(MappingSize.Size4K, SizeAt(m, 0x1000));
        Assert.True(m.VmmPte(0x5000, Td).IsHwPoison);
        Assert.Equal(0, m.Ledger.Count(CostKind.ThpPmdRemap));
    }

    [Fact]
    public void LazySplit_PinnedThp_StillSplitsThePmd()
    {
        var m = Create("lazy-split");
        m.HostWrite(0x0, 0x01, 1, Td);
        Assert.Equal(OutcomeKind.Ok, m.Gup(0x0, flags: GupFlags.Pin | GupFlags.Write, vm: Td).Kind);

        Assert.Equal(OutcomeKind.Ok, m.GuestWritePrivate(0x1000).Kind);

        Assert.True(m.VmmPte(0x1000, Td).IsHwPoison);
        Assert.Equal(0, m.Ledger.Count(CostKind.ThpSplitFailed));
    }

    [Fact]
    public void Collapse_OverAHwPoisonEntry_IsRefused_AndOverAWhollySharedRange_Allowed()
    {
        var m = Create("split");
        m.HostWrite(0x2000, 0x77, 1, Td);
        m.GuestWritePrivate(0x1000);

        var refused = m.Run("thp.collapse", Td, 0x0);
        m.Convert(0x1000, Page, toPrivate: false);
        m.HostRead(0x1000, 1, Td);
        var allowed = m.Run("thp.collapse", Td, 0x0);

        Assert.Equal((OutcomeKind.Errno, Errno.EINVAL), (refused.Kind, refused.Errno));
        Assert.Equal(OutcomeKind.Ok, allowed.Kind);
        Assert.Equal(MappingSize.Size2M, SizeAt(m, 0x1000));
        Assert.Equal(1, m.Ledger.Count(CostKind.ThpCollapse));
    }

    [Fact]
    public void Gauges_ReportHugeCoverageTlbReachAndPageTableBytes()
    {
        var m = Create("split");
        m.HostWrite(0x0, 0x01, 1, Td);
        m.HostWrite(0x200000, 0x01, 1, Td);
        Assert.Equal(500, m.Gauge("ThpHugeMappedPermille"));
        Assert.Equal(2, m.Gauge("ThpTlbReachEntries"));
        Assert.Equal(4096, m.Gauge("ThpVmmMappedKiB"));
        var tables = m.Gauge("VmmPageTableBytes");

        m.GuestWritePrivate(0x1000);

        Assert.Equal(250, m.Gauge("ThpHugeMappedPermille"));
        Assert.Equal(1 + 511, m.Gauge("ThpTlbReachEntries"));
        Assert.Equal(tables + (long)Page, m.Gauge("VmmPageTableBytes"));
        Assert.Equal(2, m.Gauge("ThpSplit"));
        Assert.Equal(0, m.Gauge("ThpSplitFailed"));
        Assert.Equal(0, m.Gauge("ThpCollapse"));
    }

    [Fact]
    public void Gauges_AreAbsentWithoutAStrategy()
    {
        var m = TestMachine.Create(BackingKind.Anon);
        m.HostWrite(0x0, 0x01, 1);

        Assert.DoesNotContain("ThpHugeMappedPermille", m.Ledger.Snapshot().Keys);
        Assert.DoesNotContain("ThpSplit", m.Ledger.Snapshot().Keys);
    }

    private static MappingSize SizeAt(TestMachine m, ulong gpa)
    {
        m.VmmPte(gpa, out var size, Td);
        return size;
    }
}

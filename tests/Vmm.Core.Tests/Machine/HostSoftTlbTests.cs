using System.Runtime.CompilerServices;
using CsCheck;
using Vmm.Abstractions;
using Vmm.Core.Machine;
using Vmm.Core.Paging;
using Vmm.Core.Tests.Infrastructure;

namespace Vmm.Core.Tests.Machine;

/// <summary>The host soft TLB as a table (against a dictionary), the page table's reports of its changes, and the cache's invalidation through them and by the controller.</summary>
public class HostSoftTlbTests
{
    private const ulong Gpa = 0x3000;

    private sealed class RecordingObserver : IPageTableObserver
    {
        public List<(ulong Va, ulong Bytes)> Changes { get; } = [];

        public void OnEntriesChanged(ulong va, ulong bytes) => Changes.Add((va, bytes));
    }

    /// <summary>A page table that does not report its changes (so its process gets no soft TLB).</summary>
    private sealed class SilentTable(IPageTable inner) : IPageTable
    {
        public PteValue Lookup(ulong va, out MappingSize size) => inner.Lookup(va, out size);
        public void Set(ulong va, PteValue entry, MappingSize size) => inner.Set(va, entry, size);
        public void Visit(ulong start, ulong end, PageTableVisitor visitor) => inner.Visit(start, end, visitor);
        public long TablePages => inner.TablePages;
        public int LastWalkDepth => inner.LastWalkDepth;
    }

    private sealed class SilentTables : IPageTableFactory
    {
        public IPageTable Create() => new SilentTable(new RadixPageTable());
    }

    [Fact]
    public void FillsRemovesAndFlushes_AgreeWithADictionary_ThroughGrowth()
    {
        var gen = Gen.Select(Gen.Int[0, 9], Gen.ULong[0, 3000]).Array[1, 2000];
        gen.Sample(ops =>
        {
            var tlb = SoftTlb.ForHost();
            var model = new Dictionary<ulong, ulong>();
            foreach (var (kind, vpn) in ops)
            {
                var va = vpn << PageGeometry.PageShift;
                if (kind == 0)
                {
                    tlb.OnEntriesChanged(va, PageGeometry.PageSize * (1 + vpn % 3));
                    for (var v = vpn; v < vpn + 1 + vpn % 3; v++) model.Remove(v);
                }
                else if (kind == 1 && vpn % 50 == 0)
                {
                    tlb.Flush();
                    model.Clear();
                }
                else
                {
                    var leaf = PteValue.Leaf(new Pfn(vpn * 7 + 1), writable: true);
                    tlb.Fill(vpn, isPrivate: false, leaf, MappingSize.Size4K, null, null);
                    model[vpn] = leaf.Raw;
                }
                Assert.Equal(model.Count, tlb.Count);
            }
            foreach (var (vpn, leaf) in model)
            {
                ref var entry = ref tlb.Find(vpn);
                Assert.False(Unsafe.IsNullRef(ref entry), $"vpn {vpn} lost");
                Assert.Equal(leaf, entry.Leaf);
            }
            for (var vpn = 0UL; vpn <= 3000; vpn += 7)
                if (!model.ContainsKey(vpn)) Assert.True(Unsafe.IsNullRef(ref tlb.Find(vpn)));
        }, iter: 200);
    }

    [Fact]
    public void RadixPageTable_ReportsEverySet_WithTheLeafsRange_ThroughTheWalkCacheToo()
    {
        var table = new RadixPageTable();
        var observer = new RecordingObserver();
        table.Observer = observer;
        var leaf = PteValue.Leaf(new Pfn(9), writable: true);

        table.Set(0x5000, leaf, MappingSize.Size4K);
        Assert.Equal(leaf, table.Lookup(0x5000, out _)); // the region's PT is now cached: the next sets take the short path
        table.Set(0x5000, leaf.WithWritable(false), MappingSize.Size4K);
        table.Set(0x5fff, PteValue.None, MappingSize.Size4K);
        table.Set(0x20_0000, PteValue.Leaf(new Pfn(512), writable: true, MappingSize.Size2M), MappingSize.Size2M);
        Assert.Throws<InvalidOperationException>(() => table.Set(0x20_1000, leaf, MappingSize.Size4K)); // inside the 2 MiB leaf: nothing written
        table.Set(0x40_1000, leaf, MappingSize.Size4K);
        table.Set(0x40_0000, PteValue.Leaf(new Pfn(1024), writable: true, MappingSize.Size2M), MappingSize.Size2M); // replaces the PT below

        Assert.Equal([(0x5000UL, 0x1000UL), (0x5000, 0x1000), (0x5000, 0x1000), (0x20_0000, 0x20_0000), (0x40_1000, 0x1000), (0x40_0000, 0x20_0000)], observer.Changes);
    }

    [Fact]
    public void HostWrite_FillsTheVmmsSoftTlb_WithTheFramesBytes_AndTheGuestSeesWhatItWrote()
    {
        var m = TestMachine.Create();
        Expect.Ok(m.HostWrite(Gpa, [1, 2, 3, 4]));
        var soft = m.VmmProcess.SoftTlb!;

        Assert.Equal(1, soft.Count);
        ref var entry = ref soft.Find(m.HvaOf(Gpa) >> PageGeometry.PageShift);
        Assert.True(entry.Grants(write: false) && entry.Grants(write: true));
        Expect.Ok(m.HostWrite(Gpa + 2, [9]));
        Assert.Equal(1, soft.Fills);
        Assert.Equal([1, 2, 9, 4], Expect.Data(m.GuestRead(Gpa, 4)));
        Assert.Equal([1, 2, 9, 4], Expect.Data(m.HostRead(Gpa, 4)));
    }

    [Fact]
    public void Munmap_DropsTheEntryThroughThePageTable_SoTheNextLoadFaults()
    {
        var m = TestMachine.Create();
        Expect.Ok(m.HostWrite(Gpa, [1, 2, 3, 4]));
        var soft = m.VmmProcess.SoftTlb!;

        Expect.Ok(m.Munmap(Gpa, TestMachine.Page));

        Assert.Equal(0, soft.Count);
        Assert.Equal(1, soft.Invalidations);
        Assert.Equal("SIGSEGV", m.HostRead(Gpa, 4).Signal);
    }

    [Fact]
    public void ForkWriteProtect_DropsTheWritableEntry_SoTheNextStoreCopiesOnWrite()
    {
        var m = TestMachine.Create();
        Expect.Ok(m.HostWrite(Gpa, [1, 2, 3, 4]));
        Expect.Ok(m.Fork());
        var child = m.LastChild;

        Expect.Ok(m.HostWrite(Gpa, [7]));

        Assert.Equal([1, 2, 3, 4], Expect.Data(m.UserAccess(child, m.HvaOf(Gpa), new byte[4], write: false)));
        Assert.Equal([7, 2, 3, 4], Expect.Data(m.HostRead(Gpa, 4)));
        Assert.NotNull(child.SoftTlb);
        Assert.Equal(1, child.SoftTlb.Count);
    }

    [Fact]
    public void PoisonedLine_RevokesTheGrants_SoTheNextLoadConsumesThePoison()
    {
        var m = TestMachine.Create();
        Expect.Ok(m.HostWrite(Gpa, [1, 2, 3, 4]));
        var soft = m.VmmProcess.SoftTlb!;

        m.Kernel.Memory.PoisonLine(m.FrameOf(Gpa), 0);

        Assert.Equal(0, soft.Count);
        Assert.Equal(1, soft.Flushes);
        Assert.Equal(OutcomeKind.SigBus, m.HostRead(Gpa, 4).Kind);
    }

    [Fact]
    public void LargeWorkingSet_GrowsTheTable_WithoutStartingOver()
    {
        const int pages = 4096;
        var m = TestMachine.Create(BackingKind.Anon, memory: pages * TestMachine.Page);
        for (var page = 0UL; page < pages; page++) Expect.Ok(m.HostWrite(page * TestMachine.Page, [(byte)page]));
        var soft = m.VmmProcess.SoftTlb!;

        Assert.Equal(pages, soft.Count);
        Assert.True(soft.Capacity >= 2 * pages, $"capacity {soft.Capacity}");
        Assert.Equal(0, soft.Flushes);
        for (var page = 0UL; page < pages; page += 97) Assert.Equal([(byte)page], Expect.Data(m.HostRead(page * TestMachine.Page, 1)));
        Assert.Equal(pages, soft.Fills);
    }

    [Fact]
    public void HostLoad_ThroughTheSoftTlb_AllocatesNothing()
    {
        var m = TestMachine.Create();
        Expect.Ok(m.HostWrite(Gpa, [1, 2, 3, 4, 5, 6, 7, 8]));
        var buffer = new byte[8];
        var hva = new Hva(m.HvaOf(Gpa));
        Assert.True(m.Kernel.Uaccess.TryUserAccess(m.VmmProcess, hva, buffer, write: false, out _));
        Assert.True(m.Kernel.Uaccess.TryUserAccess(m.VmmProcess, hva, buffer, write: true, out _));

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 100; i++) m.Kernel.Uaccess.TryUserAccess(m.VmmProcess, hva, buffer, write: i % 2 == 0, out _);

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(1, m.VmmProcess.SoftTlb!.Fills);
    }

    [Fact]
    public void PageTableWithoutTheHook_GetsNoSoftTlb_AndAccessesStillWork()
    {
        var m = TestMachine.Create(new MachineSetup { PageTables = new SilentTables() });

        Expect.Ok(m.HostWrite(Gpa, [1, 2, 3, 4]));

        Assert.Null(m.VmmProcess.SoftTlb);
        Assert.Equal([1, 2, 3, 4], Expect.Data(m.HostRead(Gpa, 4)));
    }
}

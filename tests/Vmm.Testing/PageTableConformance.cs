using Microsoft.Extensions.DependencyInjection;
using Vmm.Abstractions;

namespace Vmm.Testing;

/// <summary>
/// Properties every <see cref="IPageTableFactory"/>'s tables keep (docs/conformance.md): leaves come back bit for bit in
/// the x86-64 layout of <see cref="PteValue"/> at 4 KiB and 2 MiB, cleared leaves are gone, <see cref="IPageTable.Visit"/>
/// sees exactly the leaves set, in address order, and non-present entries (PROT_NONE, hwpoison, migration) survive.
/// </summary>
public abstract class PageTableConformance : ComponentConformance, IDisposable
{
    private const ulong Page = PageGeometry.PageSize;
    private const ulong Huge = PageGeometry.HugeSize;
    /// <summary>Where the VMM maps VM memory, and the top of user space: both ends of the 47-bit range.</summary>
    private const ulong VmmBase = 0x7f00_0000_0000UL;
    private const ulong UserTop = 0x8000_0000_0000UL;

    private IServiceScope? _run;

    public sealed override ComponentKind Kind => ComponentKind.PageTable;

    protected IPageTable NewTable()
        => ConformanceHost.Create<IPageTableFactory>(_run ??= ConformanceHost.CreateRunScope(Host), ComponentName).Create();

    /// <summary>Entries in the hardware layout: writable or not, dirty, PROT_NONE, hwpoison and migration swap entries, high pfns.</summary>
    public static TheoryData<ulong> Entries => new()
    {
        PteValue.Leaf(new Pfn(1), writable: true).Raw,
        PteValue.Leaf(new Pfn(0xabcde), writable: false).Raw,
        PteValue.Leaf(new Pfn(0xF_FFFF_FFFFUL), writable: true).WithDirty().Raw,
        PteValue.ProtNoneLeaf(new Pfn(0x1234)).Raw,
        PteValue.HwPoisonEntry(new Pfn(0x42)).Raw,
        PteValue.MigrationEntry(new Pfn(0x77), write: true).Raw,
        PteValue.MigrationEntry(new Pfn(0x78), write: false).Raw,
    };

    [Theory]
    [MemberData(nameof(Entries))]
    public void Leaf4K_RoundTripsBitForBit_AndCoversOnlyItsPage(ulong raw)
    {
        var table = NewTable();
        var entry = new PteValue(raw);
        foreach (var va in new[] { Page, VmmBase + 5 * Page, UserTop - Page })
        {
            table.Set(va, entry, MappingSize.Size4K);
            foreach (var inside in new[] { va, va + 1, va + Page - 1 })
            {
                var found = table.Lookup(inside, out var size);
                Assert.Equal(raw, found.Raw);
                Assert.Equal(MappingSize.Size4K, size);
            }
            Assert.True(table.Lookup(va - Page, out _).IsNone, $"the page below {va:x} after setting {entry}");
            if (va + Page < UserTop) Assert.True(table.Lookup(va + Page, out _).IsNone, $"the page above {va:x} after setting {entry}");
        }
    }

    [Theory]
    [MemberData(nameof(Entries))]
    public void Leaf2M_RoundTripsBitForBit_AndCoversItsWholeRange(ulong raw)
    {
        var table = NewTable();
        var entry = HugeOf(new PteValue(raw));
        var va = VmmBase + 3 * Huge;
        table.Set(va, entry, MappingSize.Size2M);
        foreach (var inside in new[] { va, va + Page, va + Huge / 2 + 17, va + Huge - 1 })
        {
            var found = table.Lookup(inside, out var size);
            Assert.Equal(entry.Raw, found.Raw);
            Assert.Equal(MappingSize.Size2M, size);
        }
        Assert.True(table.Lookup(va - 1, out _).IsNone);
        Assert.True(table.Lookup(va + Huge, out _).IsNone);
    }

    [Fact]
    public void PresentLeaves_KeepTheHardwareBits()
    {
        var table = NewTable();
        table.Set(VmmBase, PteValue.Leaf(new Pfn(9), writable: true), MappingSize.Size4K);
        table.Set(VmmBase + Huge, PteValue.Leaf(new Pfn(512), writable: false, MappingSize.Size2M), MappingSize.Size2M);

        var small = table.Lookup(VmmBase, out _).Raw;
        Assert.Equal(PteValue.Present | PteValue.Writable | PteValue.User | PteValue.Accessed | PteValue.NoExecute | (9UL << 12), small);
        var huge = table.Lookup(VmmBase + Huge, out _).Raw;
        Assert.Equal(PteValue.Present | PteValue.User | PteValue.Accessed | PteValue.NoExecute | PteValue.PageSizeBit | (512UL << 12), huge);
    }

    [Fact]
    public void Leaf2M_ReplacesTheSmallLeavesBelowIt_AndSmallLeavesReplaceItAgain()
    {
        var table = NewTable();
        var va = VmmBase + Huge;
        for (var i = 0UL; i < 4; i++) table.Set(va + i * Page, PteValue.Leaf(new Pfn(100 + i), writable: true), MappingSize.Size4K);
        var huge = PteValue.Leaf(new Pfn(1024), writable: true, MappingSize.Size2M);
        table.Set(va, huge, MappingSize.Size2M);
        Assert.Equal(huge, table.Lookup(va + 2 * Page, out var size));
        Assert.Equal(MappingSize.Size2M, size);
        Assert.Equal(new List<(ulong, PteValue, MappingSize)> { (va, huge, MappingSize.Size2M) }, Leaves(table, va, va + Huge));

        table.Set(va, PteValue.None, MappingSize.Size2M);
        var small = PteValue.Leaf(new Pfn(7), writable: false);
        table.Set(va + Page, small, MappingSize.Size4K);
        Assert.Equal(new List<(ulong, PteValue, MappingSize)> { (va + Page, small, MappingSize.Size4K) }, Leaves(table, va, va + Huge));
    }

    [Theory]
    [InlineData(MappingSize.Size4K)]
    [InlineData(MappingSize.Size2M)]
    public void ClearedLeaves_LeaveNothingPresent(MappingSize size)
    {
        var table = NewTable();
        var step = size == MappingSize.Size2M ? Huge : Page;
        var vas = Enumerable.Range(0, 8).Select(i => VmmBase + (ulong)i * 3 * step).ToList();
        foreach (var va in vas) table.Set(va, size == MappingSize.Size2M ? PteValue.Leaf(new Pfn(512), true, size) : PteValue.HwPoisonEntry(new Pfn(5)), size);
        foreach (var va in vas) table.Set(va, PteValue.None, size);

        foreach (var va in vas)
        {
            Assert.True(table.Lookup(va, out _).IsNone);
            Assert.True(table.Lookup(va + step - 1, out _).IsNone);
        }
        Assert.Empty(Leaves(table, 0, UserTop));
    }

    [Fact]
    public void Visit_SeesExactlyTheLeavesSet_InAddressOrder()
    {
        var table = NewTable();
        var expected = new SortedDictionary<ulong, (PteValue, MappingSize)>();
        var random = new Random(9);
        for (var i = 0; i < 200; i++)
        {
            var huge = random.Next(4) == 0;
            var va = huge
                ? VmmBase + (ulong)random.Next(64) * Huge
                : VmmBase + (ulong)random.Next(64) * Huge + (ulong)random.Next(512) * Page;
            var pfn = new Pfn((ulong)random.Next(1, 1 << 20));
            var entry = random.Next(3) switch
            {
                0 => PteValue.HwPoisonEntry(pfn),
                1 => PteValue.ProtNoneLeaf(pfn),
                _ => PteValue.Leaf(pfn, random.Next(2) == 0),
            };
            var size = huge ? MappingSize.Size2M : MappingSize.Size4K;
            if (huge) entry = HugeOf(entry);
            // What the table must hold afterwards: a 2 MiB leaf replaces everything in its range; a 4 KiB leaf inside a 2 MiB one is not asked for.
            var hugeBase = va & ~(Huge - 1);
            if (!huge && expected.TryGetValue(hugeBase, out var cover) && cover.Item2 == MappingSize.Size2M) continue;
            if (huge) foreach (var key in expected.Keys.Where(k => k >= va && k < va + Huge).ToList()) expected.Remove(key);
            table.Set(va, entry, size);
            expected[va] = (entry, size);
        }
        foreach (var va in expected.Keys.Where((_, i) => i % 5 == 0).ToList())
        {
            table.Set(va, PteValue.None, expected[va].Item2);
            expected.Remove(va);
        }

        Assert.Equal(expected.Select(e => (e.Key, e.Value.Item1, e.Value.Item2)).ToList(), Leaves(table, 0, UserTop));
        var from = VmmBase + 10 * Huge + 3 * Page;
        var to = VmmBase + 30 * Huge;
        Assert.Equal(
            expected.Where(e => e.Key + Span(e.Value.Item2) > from && e.Key < to).Select(e => (e.Key, e.Value.Item1, e.Value.Item2)).ToList(),
            Leaves(table, from, to));
    }

    [Fact]
    public void Visit_StopsWhenTheVisitorSaysSo()
    {
        var table = NewTable();
        for (var i = 0UL; i < 10; i++) table.Set(VmmBase + i * Page, PteValue.Leaf(new Pfn(i + 1), true), MappingSize.Size4K);
        var seen = 0;
        table.Visit(0, UserTop, (_, _, _) => ++seen < 3);
        Assert.Equal(3, seen);
    }

    [Fact]
    public void TablePages_GrowWithPopulatedRanges_NotWithRepeatedSets()
    {
        var table = NewTable();
        var empty = table.TablePages;
        table.Set(VmmBase, PteValue.Leaf(new Pfn(1), true), MappingSize.Size4K);
        var one = table.TablePages;
        Assert.True(one > empty, $"setting a first leaf allocated no table page ({empty} → {one})");
        for (var i = 0UL; i < 512; i++) table.Set(VmmBase + i * Page, PteValue.Leaf(new Pfn(i + 1), true), MappingSize.Size4K);
        Assert.Equal(one, table.TablePages);
    }

    [Fact]
    public void LookupAndSet_AllocateNothing_OnceTheTablesExist()
    {
        var table = NewTable();
        var entry = PteValue.Leaf(new Pfn(1), true);
        for (var i = 0UL; i < 512; i++) table.Set(VmmBase + i * Page, entry, MappingSize.Size4K);
        table.Set(VmmBase + Huge, PteValue.Leaf(new Pfn(512), true, MappingSize.Size2M), MappingSize.Size2M);
        Exercise(table, entry);
        var before = GC.GetAllocatedBytesForCurrentThread();
        Exercise(table, entry);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);

        static void Exercise(IPageTable table, PteValue entry)
        {
            for (var round = 0; round < 4; round++)
                for (var i = 0UL; i < 512; i++)
                {
                    table.Set(VmmBase + i * Page, entry.WithWritable(round % 2 == 0), MappingSize.Size4K);
                    table.Lookup(VmmBase + i * Page, out _);
                    table.Lookup(VmmBase + Huge + i * Page, out _);
                }
        }
    }

    public void Dispose()
    {
        _run?.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>The 2 MiB form of an entry: PS set and the pfn 2 MiB-aligned (bits 12..20 of a PDE leaf are not pfn bits) when it maps a frame.</summary>
    private static PteValue HugeOf(PteValue entry)
    {
        if (!entry.MapsFrame) return entry;
        var aligned = (entry.Pfn.Value & ~(ulong)(PageGeometry.PagesPerHuge - 1)) << PageGeometry.PageShift;
        return new PteValue((entry.Raw & ~PteValue.PfnMask) | aligned | PteValue.PageSizeBit);
    }

    private static ulong Span(MappingSize size) => size == MappingSize.Size2M ? Huge : Page;

    private static List<(ulong, PteValue, MappingSize)> Leaves(IPageTable table, ulong start, ulong end)
    {
        var leaves = new List<(ulong, PteValue, MappingSize)>();
        table.Visit(start, end, (va, entry, size) =>
        {
            leaves.Add((va, entry, size));
            return true;
        });
        return leaves;
    }
}
